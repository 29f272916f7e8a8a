import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { formatPath, type PipelineIssue } from './issues.ts';

export type PathSegment = string | number;

/** Where in the file an issue should point. */
export type Anchor =
  /** the value at the path (or the deepest part of the path that exists) */
  | 'value'
  /** the key of the last path segment, for unknown or misspelled keys */
  | 'key'
  /** the mapping that holds the last path segment, for missing fields */
  | 'parent';

/**
 * A pipeline file parsed with positions: its plain data plus a way to turn a field path into
 * a located issue. `data` is undefined when the YAML itself is broken (see `issues`).
 */
export interface PipelineSource {
  file: string;
  data: unknown;
  /** YAML syntax problems, or an empty / non-mapping document. */
  issues: PipelineIssue[];
  issueAt(path: readonly PathSegment[], message: string, anchor?: Anchor): PipelineIssue;
}

export function parsePipelineSource(file: string, text: string): PipelineSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, col };
  };

  const issueAt = (path: readonly PathSegment[], message: string, anchor: Anchor = 'value'): PipelineIssue => {
    const offset = locate(doc, path, anchor);
    return { file, ...position(offset), path: formatPath(path), message };
  };

  const issues: PipelineIssue[] = doc.errors.map((e) => ({
    file,
    ...position(e.pos[0]),
    path: '',
    message:
      e.code === 'MULTIPLE_DOCS'
        ? 'YAML syntax error: a pipeline file holds one document; remove the second "---" and split the file'
        : `YAML syntax error: ${e.message}`,
  }));
  if (issues.length > 0) return { file, data: undefined, issues, issueAt };

  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    issues.push({ file, line: 1, col: 1, path: '', message: 'the file is empty: expected a mapping with name, source, target, trainer, ...' });
    return { file, data: undefined, issues, issueAt };
  }
  if (!isMap(contents)) {
    const got = isSeq(contents) ? 'a list' : `${JSON.stringify(doc.toJS())}`;
    issues.push({
      file,
      ...position(contents.range?.[0] ?? 0),
      path: '',
      message: `expected a mapping with name, source, target, trainer, ..., got ${got}`,
    });
    return { file, data: undefined, issues, issueAt };
  }
  return { file, data: doc.toJS({ maxAliasCount: 1000 }), issues, issueAt };
}

function locate(doc: Document, path: readonly PathSegment[], anchor: Anchor): number {
  const walk = anchor === 'value' ? path : path.slice(0, -1);
  let node: unknown = doc.contents;
  let keyNode: Node | null = null;
  for (const seg of walk) {
    const next = child(node, seg);
    if (!next) break;
    node = next.value;
    keyNode = next.key;
  }
  if (anchor === 'key') {
    const last = path[path.length - 1];
    const found = last === undefined ? null : child(node, last);
    if (found?.key) return start(found.key);
    return start(node);
  }
  // A key with no value (`columns:`) has an empty scalar; point at its key instead.
  if (isScalar(node) && node.value === null && node.source === '' && keyNode) return start(keyNode);
  return start(node);
}

function child(node: unknown, seg: PathSegment): { key: Node | null; value: unknown } | null {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(k) === String(seg)) return { key: isScalar(pair.key) ? pair.key : null, value: pair.value };
    }
    return null;
  }
  if (isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg];
    return item === undefined ? null : { key: null, value: item };
  }
  return null;
}

function start(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : 0;
}
