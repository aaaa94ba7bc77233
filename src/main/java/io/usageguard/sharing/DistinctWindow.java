package io.usageguard.sharing;

import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.TgtHllType;
import org.apache.datasketches.hll.Union;

/**
 * Distinct values (64-bit hashes, never 0) seen over a sliding window of {@code slots} sub-windows,
 * in bounded memory. Up to {@code cap} live values it is exact: each value with the last sub-window
 * it was seen in, so a value seen again moves forward and a value not seen for a whole window drops
 * out. Past the cap it becomes one HyperLogLog sketch per sub-window (each value goes to the sketch
 * of the sub-window it was last seen in) and counts by their union; once every sketch has aged out
 * it is exact again.
 *
 * <p>This object holds only the parameters, shared by every window of a monitor; a window's state
 * is one reference in its owner ({@link Holder}), so that a tracked key costs as little as it can:
 * null when empty; a {@code long[]} of (value, sub-window) pairs, in no order, while it has at most
 * {@value #LIST} entries (searched linearly, no hashing); beyond, an
 * open-addressing table of such pairs with its entry count in a last, odd element; past the cap,
 * the sketches. Not thread-safe: the owner synchronises.
 */
final class DistinctWindow {

    /** Seen before in the current sub-window. */
    static final int SEEN = 0;
    /** Seen earlier in the window, not yet in the current sub-window: the count did not change. */
    static final int NEW_IN_SLOT = 1;
    /** Not in the window (or, once sketched: the current sub-window's sketch changed). */
    static final int NEW_IN_WINDOW = 2;

    /** Entries (pairs) kept as a plain list; more go to a hash table. */
    static final int LIST = 8;
    /** Smallest hash table, in pairs: above {@link #LIST} entries at a load of at most 3/4. */
    private static final int MIN_TABLE = 16;

    /** Where windows keep their state: a field of the owner per window. */
    interface Holder {
        Object window(int which);

        void window(int which, Object state);
    }

    /** A holder of one window (tests, benchmarks). */
    static final class Single implements Holder {
        private Object state;

        @Override
        public Object window(int which) {
            return state;
        }

        @Override
        public void window(int which, Object state) {
            this.state = state;
        }
    }

    /** The sketched state: one HLL per sub-window (by slot modulo {@code slots}) and the slot it is for. */
    private static final class Sketches {
        final HllSketch[] sketches;
        final long[] slotOf;

        Sketches(int slots) {
            sketches = new HllSketch[slots];
            slotOf = new long[slots];
        }
    }

    private final int slots;
    private final int cap;
    private final int lgK;

    DistinctWindow(int slots, int cap, int lgK) {
        this.slots = slots;
        this.cap = cap;
        this.lgK = lgK;
    }

    /** Records {@code value} in sub-window {@code slot}: {@link #SEEN}, {@link #NEW_IN_SLOT} or {@link #NEW_IN_WINDOW}. */
    int add(Holder holder, int which, long value, long slot) {
        Object state = holder.window(which);
        if (state instanceof Sketches sk) {
            if (!allDead(sk, slot)) {
                return sketchAdd(sk, value, slot);
            }
            state = null;
            holder.window(which, null);
        }
        long[] pairs = (long[]) state;
        if (pairs == null) {
            holder.window(which, new long[] {value, slot});
            return NEW_IN_WINDOW;
        }
        boolean table = isTable(pairs);
        int at = table ? tableFind(pairs, value) : listFind(pairs, value);
        if (at >= 0) {
            long age = slot - pairs[at + 1];
            if (age == 0) {
                return SEEN;
            }
            pairs[at + 1] = slot;
            return live(age) ? NEW_IN_SLOT : NEW_IN_WINDOW;
        }
        int entries = table ? (int) pairs[pairs.length - 1] : pairs.length / 2;
        if (entries + 1 > cap && live(pairs, slot) + 1 > cap) {
            Sketches sk = toSketches(pairs, slot);
            holder.window(which, sk);
            return sketchAdd(sk, value, slot);
        }
        holder.window(which, table ? tableAdd(pairs, value, slot) : listAdd(pairs, value, slot));
        return NEW_IN_WINDOW;
    }

    /** Distinct values in the window that ends with sub-window {@code slot}. */
    int count(Holder holder, int which, long slot) {
        Object state = holder.window(which);
        if (state instanceof Sketches sk) {
            HllSketch only = null;
            Union union = null;
            for (int i = 0; i < sk.sketches.length; i++) {
                if (sk.sketches[i] == null || !live(slot - sk.slotOf[i])) {
                    continue;
                }
                if (only == null && union == null) {
                    only = sk.sketches[i];
                } else {
                    if (union == null) {
                        union = new Union(lgK);
                        union.update(only);
                    }
                    union.update(sk.sketches[i]);
                }
            }
            double estimate = union != null ? union.getEstimate() : only != null ? only.getEstimate() : 0;
            return (int) Math.round(estimate);
        }
        return state == null ? 0 : live((long[]) state, slot);
    }

    boolean sketched(Holder holder, int which) {
        return holder.window(which) instanceof Sketches;
    }

    private boolean live(long age) {
        return age >= 0 && age < slots;
    }

    /**
     * Not yet out of the window: live, or stamped ahead of the current sub-window because the clock
     * stepped back (it counts again once the clock is back there). Only what left the window is dropped.
     */
    private boolean kept(long age) {
        return age < slots;
    }

    private static boolean isTable(long[] pairs) {
        return (pairs.length & 1) == 1;
    }

    /** Live entries (seen within the window ending at {@code slot}). */
    private int live(long[] pairs, long slot) {
        int end = isTable(pairs) ? pairs.length - 1 : pairs.length;
        int n = 0;
        for (int i = 0; i < end; i += 2) {
            if (pairs[i] != 0 && live(slot - pairs[i + 1])) {
                n++;
            }
        }
        return n;
    }

    // ---- list: (value, slot) pairs, every one in use --------------------------------------------

    private static int listFind(long[] pairs, long value) {
        for (int i = 0; i < pairs.length; i += 2) {
            if (pairs[i] == value) {
                return i;
            }
        }
        return -1;
    }

    /** Adds a new value: in place of one that left the window, else one entry longer (a table past {@link #LIST}). */
    private long[] listAdd(long[] pairs, long value, long slot) {
        for (int i = 0; i < pairs.length; i += 2) {
            if (!kept(slot - pairs[i + 1])) {
                pairs[i] = value;
                pairs[i + 1] = slot;
                return pairs;
            }
        }
        int entries = pairs.length / 2;
        if (entries + 1 > LIST) {
            long[] t = newTable(entries + 1);
            for (int i = 0; i < pairs.length; i += 2) {
                tableInsert(t, pairs[i], pairs[i + 1]);
            }
            tableInsert(t, value, slot);
            return t;
        }
        long[] grown = java.util.Arrays.copyOf(pairs, pairs.length + 2);
        grown[pairs.length] = value;
        grown[pairs.length + 1] = slot;
        return grown;
    }

    // ---- table: open addressing over pairs, value 0 = free, entry count in the last element ------

    private static long[] newTable(int entries) {
        int capacity = MIN_TABLE;
        while (entries * 4 > capacity * 3) {
            capacity <<= 1;
        }
        return new long[2 * capacity + 1];
    }

    private static int tableFind(long[] t, long value) {
        int mask = (t.length - 1) / 2 - 1;
        for (int i = index(value, mask); t[2 * i] != 0; i = (i + 1) & mask) {
            if (t[2 * i] == value) {
                return 2 * i;
            }
        }
        return -1;
    }

    private static void tableInsert(long[] t, long value, long slot) {
        int mask = (t.length - 1) / 2 - 1;
        int i = index(value, mask);
        while (t[2 * i] != 0) {
            i = (i + 1) & mask;
        }
        t[2 * i] = value;
        t[2 * i + 1] = slot;
        t[t.length - 1]++;
    }

    /**
     * Adds a new value; when the table would be too full, first drops what left the window and
     * resizes to what is left (a list again when that is short).
     */
    private long[] tableAdd(long[] t, long value, long slot) {
        int capacity = (t.length - 1) / 2;
        if ((t[t.length - 1] + 1) * 4 > capacity * 3) {
            int kept = 0;
            for (int i = 0; i < t.length - 1; i += 2) {
                if (t[i] != 0 && kept(slot - t[i + 1])) {
                    kept++;
                }
            }
            if (kept + 1 <= LIST) {
                long[] list = new long[2 * (kept + 1)];
                int j = 0;
                for (int i = 0; i < t.length - 1; i += 2) {
                    if (t[i] != 0 && kept(slot - t[i + 1])) {
                        list[j++] = t[i];
                        list[j++] = t[i + 1];
                    }
                }
                list[j] = value;
                list[j + 1] = slot;
                return list;
            }
            long[] next = newTable(kept + 1);
            for (int i = 0; i < t.length - 1; i += 2) {
                if (t[i] != 0 && kept(slot - t[i + 1])) {
                    tableInsert(next, t[i], t[i + 1]);
                }
            }
            t = next;
        }
        tableInsert(t, value, slot);
        return t;
    }

    private static int index(long value, int mask) {
        return (int) (value ^ (value >>> 32)) & mask;
    }

    // ---- sketches ---------------------------------------------------------------------------

    private boolean allDead(Sketches sk, long slot) {
        for (int i = 0; i < sk.sketches.length; i++) {
            if (sk.sketches[i] != null && live(slot - sk.slotOf[i])) {
                return false;
            }
        }
        return true;
    }

    private int sketchAdd(Sketches sk, long value, long slot) {
        int r = (int) Math.floorMod(slot, (long) slots);
        HllSketch sketch = sk.sketches[r];
        if (sketch == null) {
            sketch = sk.sketches[r] = new HllSketch(lgK, TgtHllType.HLL_4);
            sk.slotOf[r] = slot;
        } else if (sk.slotOf[r] != slot) {
            sketch.reset();
            sk.slotOf[r] = slot;
        }
        double before = sketch.getEstimate();
        sketch.update(value);
        return sketch.getEstimate() != before ? NEW_IN_WINDOW : SEEN;
    }

    /** The live values, each into the sketch of the sub-window it was last seen in. */
    private Sketches toSketches(long[] pairs, long slot) {
        Sketches sk = new Sketches(slots);
        int end = isTable(pairs) ? pairs.length - 1 : pairs.length;
        for (int i = 0; i < end; i += 2) {
            if (pairs[i] != 0 && live(slot - pairs[i + 1])) {
                sketchAdd(sk, pairs[i], pairs[i + 1]);
            }
        }
        return sk;
    }
}
