// `type: symbol` conditions on this machine's kernel: tracepoints by category:name or bare
// name, kernel functions, and names that do not exist.
import { runningKernel } from '../src/kernel-facts.js';
import { release } from 'node:os';

const kernel = runningKernel();

test('the release is uname -r', () => {
  expect(kernel.release).toBe(release());
});

test('tracepoints exist as category:name and as a bare name; kernel functions by name', () => {
  expect(kernel.hasSymbol('net:netif_receive_skb')).toBe(true);
  expect(kernel.hasSymbol('netif_receive_skb')).toBe(true);
  expect(kernel.hasSymbol('skb:kfree_skb')).toBe(true);
  expect(kernel.hasSymbol('ip_rcv')).toBe(true);
  expect(kernel.hasSymbol('tcp_v4_rcv')).toBe(true);
});

test('names that are not there', () => {
  expect(kernel.hasSymbol('retrace_no_such_function')).toBe(false);
  expect(kernel.hasSymbol('net:retrace_no_such_event')).toBe(false);
  expect(kernel.hasSymbol('skb:netif_receive_skb')).toBe(false); // right name, wrong category
});
