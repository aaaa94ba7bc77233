package io.usageguard.sharing;

import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.TgtHllType;
import org.apache.datasketches.hll.Union;

/**
 * The implementation before the compact one (commit 599f0ad), kept as the reference of
 * {@code DistinctWindowTest}: the compact one must give the same answers.
 *
 * Distinct values (64-bit hashes) seen over a sliding window of {@code slots} sub-windows, in
 * bounded memory. Up to {@code cap} live values it is exact: an open-addressing table of each value
 * and the last sub-window it was seen in, so a value seen again moves forward and a value not seen
 * for a whole window drops out. Past the cap it becomes one HyperLogLog sketch per sub-window
 * (each value goes to the sketch of the sub-window it was last seen in) and counts by their union;
 * once every sketch has aged out it is exact again. Not thread-safe: the owner synchronises.
 */
final class PreviousDistinctWindow {

    /** Seen before in the current sub-window. */
    static final int SEEN = 0;
    /** Seen earlier in the window, not yet in the current sub-window: the count did not change. */
    static final int NEW_IN_SLOT = 1;
    /** Not in the window (or, once sketched: the current sub-window's sketch changed). */
    static final int NEW_IN_WINDOW = 2;

    private static final int MIN_TABLE = 4;

    private final int slots;
    private final int cap;
    private final int lgK;

    private long[] values;
    private int[] seenIn;
    private int size;

    private HllSketch[] sketches;
    private long[] sketchSlot;

    PreviousDistinctWindow(int slots, int cap, int lgK) {
        this.slots = slots;
        this.cap = cap;
        this.lgK = lgK;
    }

    int add(long value, long slot) {
        if (sketches != null) {
            if (allSketchesDead(slot)) {
                sketches = null;
                sketchSlot = null;
            } else {
                return sketchAdd(value, slot);
            }
        }
        if (values == null) {
            values = new long[MIN_TABLE];
            seenIn = new int[MIN_TABLE];
        }
        int s = (int) slot;
        int mask = values.length - 1;
        for (int i = index(value, mask); values[i] != 0; i = (i + 1) & mask) {
            if (values[i] == value) {
                int age = s - seenIn[i];
                if (age == 0) {
                    return SEEN;
                }
                seenIn[i] = s;
                return age >= slots || age < 0 ? NEW_IN_WINDOW : NEW_IN_SLOT;
            }
        }
        if (size + 1 > cap) {
            rebuild(s);
            if (size + 1 > cap) {
                toSketches(slot);
                return sketchAdd(value, slot);
            }
        }
        if ((size + 1) * 4 > values.length * 3) {
            rebuild(s);
        }
        insert(value, s);
        size++;
        return NEW_IN_WINDOW;
    }

    int count(long slot) {
        if (sketches != null) {
            HllSketch only = null;
            Union union = null;
            for (int i = 0; i < sketches.length; i++) {
                if (sketches[i] == null || !live(sketchSlot[i], slot)) {
                    continue;
                }
                if (only == null && union == null) {
                    only = sketches[i];
                } else {
                    if (union == null) {
                        union = new Union(lgK);
                        union.update(only);
                    }
                    union.update(sketches[i]);
                }
            }
            double estimate = union != null ? union.getEstimate() : only != null ? only.getEstimate() : 0;
            return (int) Math.round(estimate);
        }
        if (values == null) {
            return 0;
        }
        int s = (int) slot;
        int n = 0;
        for (int i = 0; i < values.length; i++) {
            if (values[i] != 0 && live(s - seenIn[i])) {
                n++;
            }
        }
        return n;
    }

    boolean sketched() {
        return sketches != null;
    }

    private boolean live(int age) {
        return age >= 0 && age < slots;
    }

    private boolean live(long sketchedIn, long slot) {
        long age = slot - sketchedIn;
        return age >= 0 && age < slots;
    }

    private boolean allSketchesDead(long slot) {
        for (int i = 0; i < sketches.length; i++) {
            if (sketches[i] != null && live(sketchSlot[i], slot)) {
                return false;
            }
        }
        return true;
    }

    private int sketchAdd(long value, long slot) {
        int r = (int) Math.floorMod(slot, (long) slots);
        HllSketch sketch = sketches[r];
        if (sketch == null) {
            sketch = sketches[r] = new HllSketch(lgK, TgtHllType.HLL_4);
            sketchSlot[r] = slot;
        } else if (sketchSlot[r] != slot) {
            sketch.reset();
            sketchSlot[r] = slot;
        }
        double before = sketch.getEstimate();
        sketch.update(value);
        return sketch.getEstimate() != before ? NEW_IN_WINDOW : SEEN;
    }

    private void toSketches(long slot) {
        sketches = new HllSketch[slots];
        sketchSlot = new long[slots];
        int s = (int) slot;
        for (int i = 0; i < values.length; i++) {
            if (values[i] != 0 && live(s - seenIn[i])) {
                sketchAdd(values[i], slot - (s - seenIn[i]));
            }
        }
        values = null;
        seenIn = null;
        size = 0;
    }

    /** Drops values that left the window and resizes the table to what is left (plus one). */
    private void rebuild(int s) {
        long[] oldValues = values;
        int[] oldSeen = seenIn;
        int live = 0;
        for (int i = 0; i < oldValues.length; i++) {
            if (oldValues[i] != 0 && live(s - oldSeen[i])) {
                live++;
            }
        }
        int capacity = MIN_TABLE;
        while ((live + 1) * 4 > capacity * 3) {
            capacity <<= 1;
        }
        values = new long[capacity];
        seenIn = new int[capacity];
        size = 0;
        for (int i = 0; i < oldValues.length; i++) {
            if (oldValues[i] != 0 && live(s - oldSeen[i])) {
                insert(oldValues[i], oldSeen[i]);
                size++;
            }
        }
    }

    private void insert(long value, int s) {
        int mask = values.length - 1;
        int i = index(value, mask);
        while (values[i] != 0) {
            i = (i + 1) & mask;
        }
        values[i] = value;
        seenIn[i] = s;
    }

    private static int index(long value, int mask) {
        return (int) (value ^ (value >>> 32)) & mask;
    }
}
