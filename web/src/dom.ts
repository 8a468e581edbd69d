// Small helpers to build the interface from DOM nodes. Text always goes in as
// text nodes: nothing in the app ever assigns HTML from a string (no
// innerHTML), so names and messages chosen by other participants cannot inject
// markup.

export type Child = Node | string | null | undefined | false;

export interface Props {
  /** class attribute */
  class?: string;
  /** Event listeners, added with addEventListener. */
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
  /** Other attributes (aria-*, data-*, type, ...); false or undefined omits one. */
  [attr: string]: unknown;
}

/** h creates an element with attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'on') {
      const handlers = value as Record<string, EventListener>;
      for (const [type, fn] of Object.entries(handlers)) el.addEventListener(type, fn);
    } else if (name === 'class') {
      if (typeof value === 'string') el.className = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (value !== false && value !== undefined && value !== null) {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (strings become text nodes). */
export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** replace empties parent and adds children. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

const svgNS = 'http://www.w3.org/2000/svg';

/** Icon path data (24x24 viewBox), drawn for this app. */
export const icons = {
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zm-7 9h2a5 5 0 0 0 10 0h2a7 7 0 0 1-6 6.93V21h-2v-2.07A7 7 0 0 1 5 12z',
  micOff:
    'M3.3 2.3 2 3.6l6 6V12a4 4 0 0 0 6 3.46l1.5 1.5A6 6 0 0 1 7 12H5a8 8 0 0 0 6 7.75V22h2v-2.25a7.9 7.9 0 0 0 3.97-1.82L20.4 21.7l1.3-1.3zM15 11.2V6a3 3 0 0 0-5.9-.8zM19 12h-2c0 .7-.13 1.37-.36 2l1.5 1.5A7.9 7.9 0 0 0 19 12z',
  cam: 'M4 6h11a2 2 0 0 1 2 2v2.5l4-3v9l-4-3V16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z',
  camOff:
    'M3.3 2.3 2 3.6 4.4 6H4a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h11c.4 0 .78-.12 1.1-.33l4.3 4.3 1.3-1.3zM17 10.5V8a2 2 0 0 0-2-2H9.2L17 13.8v-.3l4 3v-9z',
  screen: 'M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v9h16V6zm8 1 4 4h-3v3h-2v-3H8z',
  grid: 'M3 3h8v8H3zm10 0h8v8h-8zM3 13h8v8H3zm10 0h8v8h-8z',
  speaker: 'M3 3h18v12H3zm0 14h5v4H3zm6.5 0h5v4h-5zm6.5 0h5v4h-5z',
  people:
    'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-3.3 0-7 1.6-7 4v3h14v-3c0-2.4-3.7-4-7-4zm7.5-2a3.5 3.5 0 1 0-1.2-6.8A6 6 0 0 1 16.4 11zm1.2 2.3A5.3 5.3 0 0 1 19 17v3h3v-3c0-1.9-2.2-3.2-4.3-3.7z',
  link: 'M10.6 13.4a1 1 0 0 1 0-1.4l3.5-3.5a1 1 0 1 1 1.4 1.4L12 13.4a1 1 0 0 1-1.4 0zM8 18a3 3 0 0 1-2.1-5.1l2.4-2.4 1.4 1.4-2.4 2.4A1 1 0 0 0 8.7 16l2.4-2.4 1.4 1.4-2.4 2.4A3 3 0 0 1 8 18zm8-12a3 3 0 0 1 2.1 5.1l-2.4 2.4-1.4-1.4 2.4-2.4A1 1 0 0 0 15.3 8l-2.4 2.4-1.4-1.4 2.4-2.4A3 3 0 0 1 16 6z',
  leave: 'M12 9c-3.2 0-6.2.7-8.8 2a1.5 1.5 0 0 0-.7 1.9l1.2 2.4a1.5 1.5 0 0 0 2 .7L8 15l.5-2.5a10 10 0 0 1 7 0L16 15l2.3 1a1.5 1.5 0 0 0 2-.7l1.2-2.4a1.5 1.5 0 0 0-.7-1.9C18.2 9.7 15.2 9 12 9z',
  settings:
    'M19.4 13a7.5 7.5 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7 7 0 0 0-1.7-1L15 3h-4l-.3 2.9a7 7 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.5 7.5 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7 7 0 0 0 1.7 1L11 21h4l.3-2.9a7 7 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z',
  hand: 'M12 2a1.5 1.5 0 0 1 1.5 1.5V11h1V4.5a1.5 1.5 0 0 1 3 0V12h1V7.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.6-2.8L3.3 14.6a1.5 1.5 0 0 1 2.4-1.8L8 15V5.5a1.5 1.5 0 0 1 3 0V11h-.5V3.5A1.5 1.5 0 0 1 12 2z',
  chat: 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9zm4 0v2h2V9zm4 0v2h2V9z',
  record: 'M12 4a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm0 4a4 4 0 1 0 0 8 4 4 0 0 0 0-8z',
  lock: 'M12 2a5 5 0 0 0-5 5v3H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-8a2 2 0 0 0-2-2h-1V7a5 5 0 0 0-5-5zm-3 8V7a3 3 0 0 1 6 0v3z',
} as const;

export type IconName = keyof typeof icons;

/** icon returns a decorative SVG icon (hidden from assistive technology). */
export function icon(name: IconName): SVGSVGElement {
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(svgNS, 'path');
  path.setAttribute('d', icons[name]);
  path.setAttribute('fill', 'currentColor');
  svg.appendChild(path);
  return svg;
}

/** announce reads a message to screen readers through the page's live region. */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node in a cleared region is announced even when the text repeats.
  region.appendChild(document.createTextNode(message));
}

/** isTyping reports whether keyboard focus is in a text field, where shortcuts must not fire. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}
