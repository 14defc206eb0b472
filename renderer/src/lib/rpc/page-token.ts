// The access token of `reft-studio serve` arrives in the link it prints (…/?token=…). Left in the
// address bar it lands in the browser's history and bookmarks, and a tab reopened from there after
// a restart sends it to whatever listens on that port by then. So on load the page moves it into
// sessionStorage (this tab only, gone with the tab; a reload reads it back) and drops it from the
// address with history.replaceState, keeping the path and the #/route.

const KEY = 'reft-studio:serve-token';

/** The slice of `window` this reads and changes (tests pass a stand-in). */
export interface TokenPage {
  location: { href: string };
  history: { state: unknown; replaceState(data: unknown, unused: string, url: string): void };
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/** The page's token: from the address (then moved out of it) or kept from an earlier load of this tab. */
export function takePageToken(page: TokenPage): string | null {
  const url = new URL(page.location.href);
  const given = url.searchParams.get('token');
  if (given === null) return stored(() => page.sessionStorage.getItem(KEY));
  stored(() => page.sessionStorage.setItem(KEY, given));
  url.searchParams.delete('token');
  page.history.replaceState(page.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  return given;
}

/** sessionStorage throws where storage is off (some privacy settings): the token then lives one load. */
function stored<T>(use: () => T): T | null {
  try {
    return use();
  } catch {
    return null;
  }
}
