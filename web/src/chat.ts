// The chat panel. Messages are end-to-end encrypted MLS application
// messages (security-mls.ts); here they are shown as plain text only: every
// message becomes text nodes (dom.ts), nothing is parsed as HTML, and
// nothing is turned into a link, so a "\\host\share" or "file://" in a
// message stays inert text.

import { h, replace } from './dom';
import { kindLabel } from './participants';
import type { ChatMessage } from './security';

export interface ChatPanel {
  element: HTMLElement;
  input: HTMLInputElement;
  /** render shows messages; it returns how many are new since the last call. */
  render(messages: ChatMessage[], enabled: boolean): number;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function chatPanel(send: (text: string) => string | undefined): ChatPanel {
  const log = h('ol', { class: 'chat-log', id: 'chat-log', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const input = h('input', { class: 'text', id: 'chat-input', type: 'text', maxlength: 4000, autocomplete: 'off', 'aria-label': 'Message' });
  const sendBtn = h('button', { class: 'btn primary', type: 'submit', id: 'chat-send' }, 'Send');
  const error = h('p', { class: 'form-error', id: 'chat-error', role: 'alert' });
  const form = h('form', { class: 'chat-form', 'aria-label': 'Send a message' }, input, sendBtn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (text === '') return;
    const err = send(text);
    error.textContent = err ?? '';
    if (err === undefined) input.value = '';
  });
  const element = h(
    'aside',
    { class: 'panel chat-panel', id: 'chat-panel', 'aria-labelledby': 'chat-heading', hidden: true },
    h('h2', { id: 'chat-heading' }, 'Chat'),
    h('p', { class: 'hint' }, 'Encrypted end to end. People who join later do not see earlier messages.'),
    log,
    error,
    form,
  );
  let shown = 0;
  return {
    element,
    input,
    render(messages, enabled) {
      input.disabled = !enabled;
      sendBtn.disabled = !enabled;
      const last = messages[messages.length - 1]?.id ?? 0;
      if (last === shown) return 0;
      const fresh = messages.filter((m) => m.id > shown && !m.self).length;
      shown = last;
      replace(
        log,
        ...messages.map((m) =>
          h(
            'li',
            { class: m.self ? 'chat-msg self' : 'chat-msg', 'data-id': String(m.id) },
            h('span', { class: 'chat-from' }, m.self ? 'You' : m.from),
            m.kind !== 'browser' && h('span', { class: `kind kind-${m.kind}` }, kindLabel[m.kind]),
            h('time', { class: 'chat-time', datetime: new Date(m.at).toISOString() }, timeFormat.format(m.at)),
            h('p', { class: 'chat-text' }, m.text),
          ),
        ),
      );
      log.lastElementChild?.scrollIntoView({ block: 'end' });
      return fresh;
    },
  };
}
