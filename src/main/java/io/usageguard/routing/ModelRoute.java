package io.usageguard.routing;

/** Where one request goes: the requested model, the configuration that matched it, and the backend chosen. */
public record ModelRoute(String model, ModelEntry entry, String backendId) {
}
