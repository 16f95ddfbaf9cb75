/**
 * The `limit` smallest keys of `items` (in ascending order) and whether more remain, in one
 * pass with a bounded max-heap: O(n log limit) and no copy of the whole collection, where a
 * sort of a million-session tenant would block the event loop for over a second.
 */
export function smallestByKey<T>(items: Iterable<T>, key: (item: T) => string, limit: number): { page: T[]; more: boolean } {
  const heap: T[] = [];
  let more = false;
  const above = (a: T, b: T): boolean => key(a) > key(b);
  for (const item of items) {
    if (heap.length < limit) {
      heap.push(item);
      siftUp(heap, heap.length - 1, above);
    } else {
      more = true;
      if (limit > 0 && above(heap[0], item)) {
        heap[0] = item;
        siftDown(heap, 0, above);
      }
    }
  }
  return { page: heap.sort((a, b) => (above(a, b) ? 1 : -1)), more };
}

function siftUp<T>(heap: T[], index: number, above: (a: T, b: T) => boolean): void {
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!above(heap[index], heap[parent])) return;
    [heap[index], heap[parent]] = [heap[parent], heap[index]];
    index = parent;
  }
}

function siftDown<T>(heap: T[], index: number, above: (a: T, b: T) => boolean): void {
  for (;;) {
    const left = 2 * index + 1;
    const right = left + 1;
    let top = index;
    if (left < heap.length && above(heap[left], heap[top])) top = left;
    if (right < heap.length && above(heap[right], heap[top])) top = right;
    if (top === index) return;
    [heap[index], heap[top]] = [heap[top], heap[index]];
    index = top;
  }
}
