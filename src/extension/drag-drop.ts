// Drag and drop on My Shares: files and folders dropped from the Explorer (or the OS) are shared; shares drag out as their files.
import * as vscode from 'vscode';
import { Views } from './view-model/ids';
import type { ShareRow } from './view-model/tree-model';
import { pathsFromUriList } from './view-model/uri-list';

const URI_LIST = 'text/uri-list';
/** VS Code marks a drag that starts in a tree view with this type; a share dropped back on its own view is no news. */
const OWN_DRAG = `application/vnd.code.tree.${Views.shares.toLowerCase()}`;

export class SharesDragAndDrop implements vscode.TreeDragAndDropController<ShareRow> {
  readonly dropMimeTypes = [URI_LIST];
  readonly dragMimeTypes = [URI_LIST];

  constructor(
    /** Shares files and folders (asks first when many); its own failures are its to report. */
    private readonly share: (paths: string[]) => Promise<unknown>,
    private readonly failed: (err: unknown) => void,
  ) {}

  handleDrag(rows: readonly ShareRow[], data: vscode.DataTransfer): void {
    data.set(URI_LIST, new vscode.DataTransferItem(rows.map((r) => vscode.Uri.file(r.path).toString()).join('\r\n')));
  }

  async handleDrop(_target: ShareRow | undefined, data: vscode.DataTransfer, token: vscode.CancellationToken): Promise<void> {
    if (data.get(OWN_DRAG)) return;
    const item = data.get(URI_LIST);
    if (!item) return;
    try {
      const paths = pathsFromUriList(await item.asString());
      if (token.isCancellationRequested || paths.length === 0) return;
      await this.share(paths);
    } catch (err) {
      this.failed(err);
    }
  }
}
