// The page footer: which code this page runs (DESIGN.md P8). The hash is
// computed here over the files the server serves and compared with the hash
// the server announces; a participant can compare it with the published one.

import { serverBundleHash } from './api';
import { computeBundleHash } from './bundlehash';
import { h } from './dom';

export function bundleFooter(): HTMLElement {
  const value = h('code', { class: 'mono', id: 'bundle-hash', 'data-state': 'computing' }, 'computing…');
  const note = h('span', { class: 'hint', id: 'bundle-hash-note' });
  const footer = h('footer', { class: 'site-footer' }, h('span', {}, 'Web app SHA-256: '), value, ' ', note);
  void (async () => {
    let mine: string;
    try {
      mine = await computeBundleHash();
    } catch {
      value.textContent = 'unavailable';
      value.dataset['state'] = 'error';
      return;
    }
    value.textContent = mine;
    value.dataset['hash'] = mine;
    const theirs = await serverBundleHash();
    if (theirs === undefined) {
      value.dataset['state'] = 'unchecked';
    } else if (theirs === mine) {
      value.dataset['state'] = 'match';
      note.textContent = '(same as the server announces)';
    } else {
      value.dataset['state'] = 'mismatch';
      note.textContent = '(differs from what the server announces: reload the page)';
    }
  })();
  return footer;
}
