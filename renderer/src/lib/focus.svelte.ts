// Keyboard focus after an action removed what held it (the Delete button of a row that is gone, a
// detail panel closed): the browser drops it to <body>, and the next Tab starts again from the top
// of the window.

import { tick } from 'svelte';
import type { Attachment } from 'svelte/attachments';

/**
 * Once the page has updated, if nothing holds focus, gives it to the element with id `openerId` (what
 * opened the panel that went) or, when there is none, to the page itself (<main>).
 */
export async function keepFocusOnPage(openerId?: string): Promise<void> {
  await tick();
  if (document.activeElement !== null && document.activeElement !== document.body) return;
  const opener = openerId ? document.getElementById(openerId) : null;
  (opener ?? document.querySelector<HTMLElement>('main'))?.focus();
}

/**
 * Gives focus to the element with id `id` once it is on the page and focus is nowhere (<body>): after
 * an action whose button was disabled while it ran (or went with the page it was on), focus goes to
 * what the action produced — a result, a new heading, a row that renders once its rows have loaded.
 * Watches each frame for `ms`, as what held focus may leave the page later (a closed dialog gives
 * focus back to a button of a list about to be made anew); a key or a click meanwhile wins.
 */
export function focusWhenShown(id: string, ms = 5000): void {
  const until = performance.now() + ms;
  let frame = 0;
  let stopped = false;
  const stop = () => {
    stopped = true;
    cancelAnimationFrame(frame);
    document.removeEventListener('keydown', stop, true);
    document.removeEventListener('pointerdown', stop, true);
  };
  const look = () => {
    if (stopped) return;
    const el = document.getElementById(id);
    const nowhere = document.activeElement === null || document.activeElement === document.body;
    if (el && nowhere) el.focus();
    if (document.activeElement === el || performance.now() > until) stop();
    else frame = requestAnimationFrame(look);
  };
  document.addEventListener('keydown', stop, true);
  document.addEventListener('pointerdown', stop, true);
  void tick().then(look);
}

/**
 * Calls keepFocusOnPage with the opener of a detail panel each time the panel closes (`shown()`
 * goes from an id to null), however it closed: its Close button, Escape, a link. Call during
 * component init.
 */
export function focusOpenerOnClose(shown: () => number | null, openerId: (id: number) => string): void {
  let last: number | null = null;
  $effect(() => {
    const id = shown();
    if (id === null && last !== null) void keepFocusOnPage(openerId(last));
    last = id;
  });
}

/** What a keyboard's Tab can reach (elements with tabindex -1 and disabled controls excluded). */
const TABBABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type="hidden"])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  'summary',
  'iframe',
  '[contenteditable="true"]',
  '[tabindex]:not([tabindex="-1"])',
].join(', ');

/** What Tab can reach inside `el` and is shown, in document order. */
export function tabbablesIn(el: HTMLElement): HTMLElement[] {
  return [...el.querySelectorAll<HTMLElement>(TABBABLE)].filter((e) => e.checkVisibility?.() ?? true);
}

/**
 * Keeps Tab inside `el` (a modal dialog): from its last control Tab goes to its first, Shift+Tab
 * from its first to its last. A native modal lets focus leave to the browser's own controls, and in
 * the desktop app, which has none, it went to nowhere (<body>) for one press.
 */
export function wrapTab(e: KeyboardEvent, el: HTMLElement): void {
  if (e.key !== 'Tab') return;
  const all = tabbablesIn(el);
  // Tab leaves from the last control to the first; Shift+Tab from the first to the last.
  const [from, to] = e.shiftKey ? [all[0], all.at(-1)] : [all.at(-1), all[0]];
  if (!to || document.activeElement !== from) return;
  e.preventDefault();
  to.focus();
}

/**
 * Calls `report` with whether the element holds anything Tab can reach (shown), now and whenever
 * its content changes — a tab panel is a tab stop of its own only when it holds nothing else.
 */
export function watchTabbable(report: (has: boolean) => void): Attachment<HTMLElement> {
  return (el) => {
    const check = () => report(tabbablesIn(el).length > 0);
    check();
    const observer = new MutationObserver(check);
    observer.observe(el, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['disabled', 'tabindex', 'href', 'hidden', 'type', 'class', 'style'],
    });
    return () => observer.disconnect();
  };
}

/**
 * Keeps keyboard focus in a group of controls whose buttons swap as they act: Pause becomes Resume,
 * and every button is disabled while a request is in flight. A disabled or removed button drops focus
 * to <body> (the next Tab starts again from the top of the window, a screen reader is left nowhere).
 * The control that had focus gets it back once it is enabled again; one that is gone hands it to the
 * control now in its place in the group (the same position), as soon as that one is enabled. A click
 * or focus elsewhere lets the group go.
 */
export function keepFocusAmong(): Attachment<HTMLElement> {
  return (el) => {
    const controls = () => [...el.querySelectorAll<HTMLElement>('button, a[href]')];
    let held: HTMLElement | null = null;
    let position = 0;
    const onFocusIn = (e: FocusEvent) => {
      held = e.target instanceof HTMLElement ? e.target : null;
      position = held ? Math.max(0, controls().indexOf(held)) : 0;
    };
    const onElsewhere = (e: Event) => {
      if (!(e.target instanceof Node && el.contains(e.target))) held = null;
    };
    const restore = () => {
      if (!held || (document.activeElement !== null && document.activeElement !== document.body)) return;
      if (!held.isConnected || !el.contains(held)) {
        const now = controls();
        held = now[Math.min(position, now.length - 1)] ?? null;
      }
      // Disabled for now (a request in flight): focused on a later change, once it is enabled.
      if (held && !held.matches(':disabled')) held.focus();
    };
    el.addEventListener('focusin', onFocusIn);
    document.addEventListener('focusin', onElsewhere);
    document.addEventListener('pointerdown', onElsewhere);
    const observer = new MutationObserver(restore);
    observer.observe(el, { subtree: true, childList: true, attributes: true, attributeFilter: ['disabled'] });
    return () => {
      observer.disconnect();
      el.removeEventListener('focusin', onFocusIn);
      document.removeEventListener('focusin', onElsewhere);
      document.removeEventListener('pointerdown', onElsewhere);
    };
  };
}
