package io.usageguard.sharing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class DistinctWindowTest {

    /** One window and its state. */
    static final class W {
        final DistinctWindow d;
        final DistinctWindow.Single state = new DistinctWindow.Single();

        W(int slots, int cap, int lgK) {
            d = new DistinctWindow(slots, cap, lgK);
        }

        int add(long value, long slot) {
            return d.add(state, 0, value, slot);
        }

        int count(long slot) {
            return d.count(state, 0, slot);
        }

        boolean sketched() {
            return d.sketched(state, 0);
        }
    }

    /**
     * Against the previous implementation (an open-addressing table per window, its own object):
     * the same answers to every add and count while exact, and counts within the sketches' error
     * once both are sketched (the sketches get the same values, possibly in another order, which
     * may move the HLL estimate within its error). Two differences, both at the edges: with
     * {@code cap} values live, the previous table also took back, without counting it against the
     * cap, a value that had left the window if it had not been rebuilt since — this one turns to
     * sketches there, at the first value beyond the cap, as documented; and when the clock steps
     * back, values that had left the window before the step count again if they are still held,
     * which each implementation decides at its own moments (this one keeps values stamped ahead of
     * the clock until they leave the window; the previous table dropped them whenever it happened
     * to be rebuilt).
     */
    @Test
    void answersAsThePreviousImplementation() {
        SplittableRandom seeds = new SplittableRandom(11);
        int sketchedSteps = 0;
        int exactSteps = 0;
        int atTheCap = 0;
        for (int run = 0; run < 400; run++) {
            long seed = seeds.nextLong();
            SplittableRandom r = new SplittableRandom(seed);
            int slots = 1 + r.nextInt(14);
            int cap = 1 + r.nextInt(r.nextBoolean() ? 12 : 60);
            int pool = 1 + r.nextInt(r.nextBoolean() ? 10 : 120);
            W ours = new W(slots, cap, 10);
            PreviousDistinctWindow theirs = new PreviousDistinctWindow(slots, cap, 10);
            long slot = 1_000 + r.nextInt(1_000);
            boolean steppedBack = false;
            for (int op = 0; op < 400; op++) {
                switch (r.nextInt(12)) {
                    case 0 -> slot += 1 + r.nextInt(slots + 2);
                    case 1 -> {
                        if (run % 4 == 0) {
                            slot -= 1 + r.nextInt(3); // the clock stepped back
                            steppedBack = true;
                        }
                    }
                    case 2, 3 -> slot++;
                    default -> {
                    }
                }
                long value = NetworkKeys.mix(1 + r.nextInt(pool) + seed % 1_000 * 1_000);
                String step = "seed " + seed + " op " + op;
                int liveBefore = theirs.sketched() ? -1 : theirs.count(slot);
                int expected = theirs.add(value, slot);
                int actual = ours.add(value, slot);
                if (ours.sketched() != theirs.sketched()) {
                    // this one keeps more: values that came back at the cap, values stamped ahead of a clock that stepped back
                    if (!steppedBack) {
                        assertThat(ours.sketched()).as(step + ": only this one turns to sketches first").isTrue();
                        assertThat(liveBefore).as(step + ": live before").isEqualTo(cap);
                    }
                    atTheCap++;
                    break;
                }
                long probe = slot + r.nextInt(slots + 1);
                if (ours.sketched()) {
                    sketchedSteps++;
                    assertThat((double) ours.count(slot)).as(step).isCloseTo(theirs.count(slot), within(2 + theirs.count(slot) * 0.1));
                } else if (steppedBack) {
                    // each drops, at its own moments, values that had left the window before the step back
                    assertThat(ours.count(slot)).as(step + " count").isBetween(0, pool);
                } else {
                    exactSteps++;
                    assertThat(actual).as(step + " add").isEqualTo(expected);
                    assertThat(ours.count(slot)).as(step + " count").isEqualTo(theirs.count(slot));
                    assertThat(ours.count(probe)).as(step + " count later").isEqualTo(theirs.count(probe));
                }
            }
        }
        assertThat(exactSteps).isGreaterThan(50_000);
        assertThat(sketchedSteps).isGreaterThan(10_000);
        assertThat(atTheCap).as("runs that reached the cap edge").isLessThan(100);
    }

    @Test
    void aFewValuesTakeAListTheSizeOfWhatIsHeldManyATable() {
        W w = new W(12, 32, 10);
        w.add(NetworkKeys.mix(1), 100);
        assertThat((long[]) w.state.window(0)).hasSize(2);
        w.add(NetworkKeys.mix(2), 100);
        w.add(NetworkKeys.mix(3), 101);
        assertThat((long[]) w.state.window(0)).hasSize(6);
        // a value that left the window gives its place to a new one
        w.add(NetworkKeys.mix(4), 112);
        assertThat((long[]) w.state.window(0)).hasSize(6);
        assertThat(w.count(112)).isEqualTo(2);
        for (int i = 5; i <= 20; i++) {
            w.add(NetworkKeys.mix(i), 112);
        }
        assertThat(w.count(112)).isEqualTo(18);
        assertThat(((long[]) w.state.window(0)).length).as("a table of 32 pairs and its count").isEqualTo(65);
        // everything ages out; the table, when full, is rebuilt from what is live: a list again while that is short
        for (int i = 21; i <= 27; i++) {
            w.add(NetworkKeys.mix(i), 130);
        }
        assertThat(w.count(130)).isEqualTo(7);
        assertThat((long[]) w.state.window(0)).as("a list of the 7 live values").hasSize(14);
    }

    @Test
    void exactUpToTheCapAndAgesOutSubWindowBySubWindow() {
        W w = new W(12, 32, 10);
        for (int i = 1; i <= 10; i++) {
            assertThat(w.add(NetworkKeys.mix(i), 100 + i)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        }
        assertThat(w.count(110)).isEqualTo(10);
        // seen again in the same sub-window, then in a later one
        assertThat(w.add(NetworkKeys.mix(10), 110)).isEqualTo(DistinctWindow.SEEN);
        assertThat(w.add(NetworkKeys.mix(1), 111)).isEqualTo(DistinctWindow.NEW_IN_SLOT);
        assertThat(w.count(111)).isEqualTo(10);
        // slot 101 (value 1) was refreshed in 111; 102..110 age out one by one
        assertThat(w.count(113)).isEqualTo(10); // window is 102..113
        assertThat(w.count(114)).isEqualTo(9);  // 102 gone
        assertThat(w.count(122)).isEqualTo(1);  // only value 1 (seen in 111) and nothing else
        assertThat(w.count(123)).isZero();
        assertThat(w.add(NetworkKeys.mix(5), 130)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        assertThat(w.count(130)).isEqualTo(1);
        assertThat(w.sketched()).isFalse();
    }

    @Test
    void pastTheCapASketchPerSubWindowThatAgesOutToo() {
        W w = new W(12, 32, 10);
        for (int i = 1; i <= 1000; i++) {
            w.add(NetworkKeys.mix(i), 200 + (i % 6));
        }
        assertThat(w.sketched()).isTrue();
        assertThat((double) w.count(205)).isCloseTo(1000, within(60.0));
        // the same values again: no growth
        for (int i = 1; i <= 1000; i++) {
            w.add(NetworkKeys.mix(i), 205);
        }
        assertThat((double) w.count(205)).isCloseTo(1000, within(60.0));
        assertThat(w.count(205 + 12)).isZero();
        // everything aged out: exact again
        assertThat(w.add(NetworkKeys.mix(1), 300)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        assertThat(w.sketched()).isFalse();
        assertThat(w.count(300)).isEqualTo(1);
    }

    @Test
    void networkKeysGroupByPrefix() throws Exception {
        long a = NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.7"), 24, 48);
        long b = NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.250"), 24, 48);
        long c = NetworkKeys.of(java.net.InetAddress.getByName("203.0.114.7"), 24, 48);
        long mapped = NetworkKeys.of(java.net.InetAddress.getByName("::ffff:203.0.113.9"), 24, 48);
        long v6a = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:1:2::1"), 24, 48);
        long v6b = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:1:ffff::9"), 24, 48);
        long v6c = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:2::1"), 24, 48);
        assertThat(a).isEqualTo(b).isEqualTo(mapped).isNotEqualTo(c);
        assertThat(v6a).isEqualTo(v6b).isNotEqualTo(v6c);
        assertThat(NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.7"), 32, 128))
                .isNotEqualTo(NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.8"), 32, 128));
    }

    @Test
    void userAgentFamilies() {
        assertThat(UserAgents.family("OpenAI/Python 1.40.0")).isEqualTo("openai-python");
        assertThat(UserAgents.family("OpenAI/JS 4.52.0")).isEqualTo("openai-js");
        assertThat(UserAgents.family("curl/8.5.0")).isEqualTo("curl");
        assertThat(UserAgents.family("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")).isEqualTo("mozilla");
        assertThat(UserAgents.family("python-requests/2.31.0")).isEqualTo("python-requests");
        assertThat(UserAgents.family("")).isEqualTo("none");
        assertThat(UserAgents.family(null)).isEqualTo("none");
        assertThat(UserAgents.family("()")).isEqualTo("other");
        assertThat(UserAgents.family("x".repeat(500))).hasSize(UserAgents.MAX_FAMILY);
    }
}
