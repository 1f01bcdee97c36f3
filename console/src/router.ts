/**
 * A tiny client-side router over the History API: the console has six pages, so a dependency would weigh more than
 * these lines (and every byte of the bundle is served to approvers on slow links). Links are ordinary <a href>; clicks
 * on same-origin /console/ links are intercepted, anything else (downloads, the backend's routes) is left alone.
 */
import { useEffect, useState } from 'preact/hooks';

type Listener = () => void;
const listeners = new Set<Listener>();

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  for (const l of listeners) l();
}

/** The current location (path and search), re-rendering on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    listeners.add(l);
    window.addEventListener('popstate', l);
    return () => {
      listeners.delete(l);
      window.removeEventListener('popstate', l);
    };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

/** Paths the single-page app owns; the backend's (API, sign-in, downloads) are real navigations. */
function isAppPath(path: string): boolean {
  return path.startsWith('/console/') && !/^\/console\/(api\/|login|callback|link\/|logout)/.test(path);
}

/** One click handler on the document: plain left clicks on app links become client-side navigations. */
export function interceptLinks(): void {
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !isAppPath(url.pathname)) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
}
