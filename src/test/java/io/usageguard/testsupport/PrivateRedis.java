package io.usageguard.testsupport;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A redis-server of a test's own (on 127.0.0.1, a free port, nothing kept on disk), for tests that
 * stop, kill or restart Redis, or must not share its statistics. Started when made; ready when
 * {@link #start()} returns.
 */
public final class PrivateRedis implements AutoCloseable {

    private final int port;
    private Process process;

    private PrivateRedis(int port) {
        this.port = port;
    }

    /** A redis-server on a free port, accepting connections. */
    public static PrivateRedis start() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        PrivateRedis redis = new PrivateRedis(port);
        redis.restart();
        return redis;
    }

    public int port() {
        return port;
    }

    /** {@code redis://127.0.0.1:<port>} */
    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    public long pid() {
        return process.pid();
    }

    /** Starts it (again) on its port and waits until it accepts connections. */
    public void restart() throws IOException {
        process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        Http.await(Duration.ofSeconds(20), "redis-server up on " + port, () -> {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return true;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** Calls and microseconds so far per command ({@code INFO commandstats}; a script's inner commands included). */
    public Map<String, long[]> commandStats() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("redis-cli", "-p", Integer.toString(port), "info", "commandstats")
                .redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        Map<String, long[]> stats = new TreeMap<>();
        Matcher m = STAT.matcher(text);
        while (m.find()) {
            stats.put(m.group(1), new long[]{Long.parseLong(m.group(2)), Long.parseLong(m.group(3))});
        }
        return stats;
    }

    /** Calls of one command so far (0 when it never ran). */
    public long calls(String command) throws IOException, InterruptedException {
        return commandStats().getOrDefault(command, new long[2])[0];
    }

    private static final Pattern STAT = Pattern.compile("cmdstat_([^:]+):calls=(\\d+),usec=(\\d+)");

    /** Kills it (SIGKILL) and waits until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
