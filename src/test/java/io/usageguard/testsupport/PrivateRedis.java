package io.usageguard.testsupport;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;

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
