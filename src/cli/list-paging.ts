// The O and F pages of the menu: asks the engine for one bounded page at a time and remembers where the next one starts.
import type { ListCursor, OnlinePage, PageRequest, SearchPage } from '../peer/api';
import { P2PError } from '../protocol/errors';
import { onlineItemJson, searchHitJson, type CliEvent } from './events';

/** What the pages need of the peer engine. */
export interface ListingPeer {
  listOnline(request?: PageRequest): Promise<OnlinePage>;
  searchOnline(text: string, request?: PageRequest): Promise<SearchPage>;
}

/** Entries or hits per O / F page: about a screen. */
export const CLI_PAGE_ITEMS = 50;
export const ONLINE_MORE = 'O more';
export const FIND_MORE = 'F';

export class ListPaging {
  private online?: ListCursor;
  private search?: { text: string; next: ListCursor };

  constructor(private readonly peer: ListingPeer) {}

  /** O: the first page, or with `more` the page after the last one shown. */
  async onlinePage(more: boolean): Promise<CliEvent> {
    if (more && !this.online) throw new P2PError('BAD_COMMAND', 'there is no next page of the online list; O shows the first');
    const page = await this.peer.listOnline({ cursor: more ? this.online : undefined, maxItems: CLI_PAGE_ITEMS });
    this.online = page.next;
    const ev: CliEvent = { event: 'online', items: page.items.map(onlineItemJson) };
    if (page.next) ev.more = ONLINE_MORE;
    return ev;
  }

  /** F <text>: the first page of hits; F alone: the next page of the last search. */
  async findPage(text: string | undefined): Promise<CliEvent> {
    const last = this.search;
    if (text === undefined && !last) throw new P2PError('BAD_COMMAND', 'there is no search to go on with; F <text> finds content whose name contains the text');
    const query = text ?? last!.text;
    const page = await this.peer.searchOnline(query, { cursor: text === undefined ? last!.next : undefined, maxItems: CLI_PAGE_ITEMS });
    this.search = page.next ? { text: query, next: page.next } : undefined;
    const ev: CliEvent = { event: 'found', text: query, hits: page.hits.map(searchHitJson) };
    if (page.next) ev.more = FIND_MORE;
    return ev;
  }
}
