package io.usageguard.usage;

import java.io.ByteArrayOutputStream;

/**
 * Passes an SSE stream on event by event while reading its usage, minus the usage-only chunk
 * ({@code "choices":[]} with a usage object) that the gateway asked for on the client's behalf.
 * Complete events go on at once; the bytes of an event still in progress are held back until its
 * terminating empty line arrives, up to {@code maxHeld} bytes, after which that event is passed on
 * as it comes (so it can no longer be removed; a usage chunk is a few hundred bytes). If the parser
 * ever failed, everything is passed on unchanged from then on.
 */
final class UsageChunkRemover implements SseUsageParser.EventListener {

    private static final byte[] NOTHING = new byte[0];

    private final SseUsageParser parser;
    private final int maxHeld;
    private final ByteArrayOutputStream held = new ByteArrayOutputStream();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private boolean heldPassed; // part of the current event has already gone to the client
    // the last event ended with a CR at the end of a chunk: an LF starting the next chunk is its end,
    // to be dropped with it (-1) or passed on with it (1); 0 when not pending
    private int leadingLf;
    private boolean broken;
    private byte[] bytes;
    private int segment; // start of the bytes of this chunk not yet passed on, held or dropped

    UsageChunkRemover(SseUsageParser parser, int maxHeld) {
        this.parser = parser;
        this.maxHeld = maxHeld;
    }

    /** The bytes to send the client now for this chunk of the backend's stream (possibly none). */
    byte[] pass(byte[] chunk) {
        out.reset();
        if (broken) {
            flushHeld();
            out.write(chunk, 0, chunk.length);
            return result();
        }
        bytes = chunk;
        segment = 0;
        int n = chunk.length;
        try {
            if (leadingLf != 0 && n > 0) {
                if (chunk[0] == '\n') {
                    segment = 1; // the parser skips it too, as the LF of a CRLF
                    if (leadingLf > 0) {
                        out.write('\n');
                    }
                }
                leadingLf = 0;
            }
            parser.feed(chunk, 0, n, this);
            if (heldPassed) {
                out.write(chunk, segment, n - segment);
            } else {
                held.write(chunk, segment, n - segment);
                if (held.size() > maxHeld) {
                    flushHeld(); // too large to be a usage chunk: pass it on as it comes
                    heldPassed = true;
                }
            }
        } catch (RuntimeException e) {
            broken = true;
            flushHeld();
            out.write(chunk, segment, n - segment);
            bytes = null;
            throw new ParserFailure(result(), e);
        }
        bytes = null;
        return result();
    }

    @Override
    public void eventEnded(int end, boolean usageOnly, boolean endedWithCr) {
        boolean drop = usageOnly && !heldPassed;
        int to = end;
        if (endedWithCr) {
            if (end < bytes.length) {
                if (bytes[end] == '\n') {
                    to = end + 1; // the LF of the event's final CRLF belongs to it
                }
            } else {
                leadingLf = drop ? -1 : 1;
            }
        }
        if (drop) {
            held.reset(); // the usage chunk the client did not ask for
        } else {
            flushHeld();
            out.write(bytes, segment, to - segment);
        }
        segment = to;
        heldPassed = false;
    }

    /** What is still held back (the stream ended, e.g. without a final empty line). */
    byte[] flush() {
        byte[] rest = held.size() == 0 ? NOTHING : held.toByteArray();
        held.reset();
        return rest;
    }

    boolean broken() {
        return broken;
    }

    private void flushHeld() {
        if (held.size() > 0) {
            out.write(held.toByteArray(), 0, held.size());
            held.reset();
        }
    }

    private byte[] result() {
        return out.size() == 0 ? NOTHING : out.toByteArray();
    }

    /** The parser failed on a chunk; {@link #output} is what to send for it (nothing is lost). */
    static final class ParserFailure extends RuntimeException {
        private final transient byte[] output;

        ParserFailure(byte[] output, RuntimeException cause) {
            super(cause.getClass().getName(), cause, false, false);
            this.output = output;
        }

        byte[] output() {
            return output;
        }
    }
}
