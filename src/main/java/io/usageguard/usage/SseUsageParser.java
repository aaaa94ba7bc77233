package io.usageguard.usage;

import java.nio.ByteBuffer;

/**
 * Reads token usage from a Server-Sent Events stream fed to it in arbitrary byte chunks, the way
 * the bytes arrive from the network: an event, a line, a {@code "usage"} key or a multi-byte UTF-8
 * character may be split anywhere. Lines end in LF, CRLF or CR; an empty line ends an event; the
 * {@code data:} lines of one event are joined with LF; comments ({@code :}) and other fields are
 * ignored; {@code data: [DONE]} marks the end.
 *
 * <p>Each event's data is scanned as it passes by a {@link JsonUsageScanner}, so nothing of the
 * stream is kept: memory is constant however large an event is. An event whose data exceeds
 * {@code maxEventBytes} is not scanned further (skipped up to its end). The usage is the one of the
 * last event that carried a complete {@code usage} object; content characters and the number of
 * events that carried content are counted for an estimate when no usage comes. Only numbers leave
 * this class. It never throws on any input. Not thread-safe.
 */
public final class SseUsageParser {

    /** Told at the end of each event (the empty line that ends it). */
    @FunctionalInterface
    public interface EventListener {
        /**
         * @param end         index just past the event's last byte in the array being fed
         * @param usageOnly   the event was a usage-only chunk ({@code "choices":[]} with a usage object)
         * @param endedWithCr the event ended with a CR that may be followed by an LF in the next byte
         */
        void eventEnded(int end, boolean usageOnly, boolean endedWithCr);
    }

    public static final long DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

    private static final byte[] DONE = {'[', 'D', 'O', 'N', 'E', ']'};
    private static final byte[] LF = {'\n'};
    private static final int LINE_START = 0;
    private static final int FIELD = 1;
    private static final int DATA_SPACE = 2;
    private static final int DATA = 3;
    private static final int IGNORE = 4;

    private final long maxEventBytes;
    private final JsonUsageScanner json = new JsonUsageScanner();
    private final byte[] scratch = new byte[8192];

    private int state = LINE_START;
    private boolean afterCr;
    private int fieldLength; // bytes of the field name so far; the name matters only if it is "data"
    private boolean fieldIsData;

    private boolean eventHasData;
    private long eventDataBytes;
    private int doneMatch;
    private boolean eventOversize;

    private boolean usageSeen;
    private long promptTokens = -1;
    private long completionTokens = -1;
    private long textChars;
    private long textEvents;
    private long events;
    private boolean done;

    public SseUsageParser() {
        this(DEFAULT_MAX_EVENT_BYTES);
    }

    public SseUsageParser(long maxEventBytes) {
        this.maxEventBytes = maxEventBytes;
    }

    public void feed(byte[] bytes) {
        feed(bytes, 0, bytes.length, null);
    }

    public void feed(byte[] bytes, int offset, int length) {
        feed(bytes, offset, length, null);
    }

    /** Feeds the remaining bytes of the buffer (its position is not changed). */
    public void feed(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        while (b.hasRemaining()) {
            int n = Math.min(scratch.length, b.remaining());
            b.get(scratch, 0, n);
            feed(scratch, 0, n, null);
        }
    }

    public void feed(byte[] bytes, int offset, int length, EventListener listener) {
        int end = offset + length;
        int i = offset;
        while (i < end) {
            byte c = bytes[i];
            if (afterCr) {
                afterCr = false;
                if (c == '\n') {
                    i++;
                    continue; // the LF of a CRLF
                }
            }
            if (c == '\r' || c == '\n') {
                boolean emptyLine = state == LINE_START;
                endLine();
                afterCr = c == '\r';
                i++;
                if (emptyLine) {
                    dispatch(i, afterCr, listener);
                }
                continue;
            }
            switch (state) {
                case LINE_START -> {
                    if (c == ':') {
                        state = IGNORE; // a comment
                    } else {
                        state = FIELD;
                        fieldLength = 0;
                        fieldIsData = true;
                        fieldByte(c);
                    }
                    i++;
                }
                case FIELD -> {
                    if (c == ':') {
                        if (fieldIsData && fieldLength == 4) {
                            startData();
                            state = DATA_SPACE;
                        } else {
                            state = IGNORE;
                        }
                    } else {
                        fieldByte(c);
                    }
                    i++;
                }
                case DATA_SPACE -> {
                    state = DATA;
                    if (c == ' ') {
                        i++; // one space after the colon is not part of the value
                    }
                }
                case DATA -> {
                    int j = lineEnd(bytes, i, end);
                    data(bytes, i, j);
                    i = j;
                }
                default -> i = lineEnd(bytes, i, end);
            }
        }
    }

    private static int lineEnd(byte[] bytes, int from, int end) {
        int j = from;
        while (j < end && bytes[j] != '\n' && bytes[j] != '\r') {
            j++;
        }
        return j;
    }

    private void fieldByte(byte c) {
        if (fieldLength < 4) {
            fieldIsData &= c == "data".charAt(fieldLength);
        } else {
            fieldIsData = false;
        }
        if (fieldLength < Integer.MAX_VALUE) {
            fieldLength++;
        }
    }

    private void endLine() {
        if (state == FIELD && fieldIsData && fieldLength == 4) {
            startData(); // "data" alone on a line: an empty value
        }
        state = LINE_START;
    }

    private void startData() {
        if (eventHasData) {
            data(LF, 0, 1);
            doneMatch = -1;
        }
        eventHasData = true;
    }

    private void data(byte[] bytes, int from, int to) {
        if (eventOversize || to <= from) {
            return;
        }
        int n = to - from;
        if (eventDataBytes + n > maxEventBytes) {
            // scan up to the limit and skip the rest of this event: the same however the bytes were cut
            n = (int) (maxEventBytes - eventDataBytes);
            eventOversize = true;
        }
        eventDataBytes += n;
        for (int k = from; k < from + n && doneMatch >= 0; k++) {
            if (doneMatch < DONE.length && bytes[k] == DONE[doneMatch]) {
                doneMatch++;
            } else {
                doneMatch = -1;
            }
        }
        json.feed(bytes, from, n);
    }

    private void dispatch(int end, boolean endedWithCr, EventListener listener) {
        boolean usageOnly = false;
        if (eventHasData) {
            events++;
            if (doneMatch == DONE.length) {
                done = true;
            } else if (!eventOversize) {
                json.finish();
                if (json.usageSeen()) {
                    usageSeen = true;
                    promptTokens = json.promptTokens();
                    completionTokens = json.completionTokens();
                    usageOnly = json.choicesEmpty() && json.textChars() == 0;
                }
            }
            if (json.textChars() > 0) {
                textChars += json.textChars();
                textEvents++;
            }
        }
        eventHasData = false;
        eventDataBytes = 0;
        doneMatch = 0;
        eventOversize = false;
        json.reset();
        if (listener != null) {
            listener.eventEnded(end, usageOnly, endedWithCr);
        }
    }

    /**
     * The stream ended. An event not closed by an empty line is taken into account anyway (some
     * servers omit the final one).
     */
    public void finish() {
        endLine();
        if (eventHasData) {
            dispatch(0, false, null);
        }
    }

    /** True once an event carried a complete usage object. */
    public boolean usageSeen() {
        return usageSeen;
    }

    /** From the last event with usage; -1 when none or when it had no prompt count. */
    public long promptTokens() {
        return promptTokens;
    }

    /** From the last event with usage; -1 when none or when it had no completion count. */
    public long completionTokens() {
        return completionTokens;
    }

    /** Characters of generated text seen so far, including the event still in progress. */
    public long textChars() {
        return textChars + json.textChars();
    }

    /** Complete events that carried generated text (about one token each in most servers). */
    public long textEvents() {
        return textEvents;
    }

    /** Complete events with data. */
    public long events() {
        return events;
    }

    /** {@code data: [DONE]} was seen. */
    public boolean done() {
        return done;
    }
}
