# syntax=docker/dockerfile:1
#
# Usage Guard container image.
#
#   docker build -t usage-guard:0.1.0 .
#   docker run --rm -p 8080:8080 -p 8081:8081 usage-guard:0.1.0 --spring.profiles.active=demo
#
# The build stage runs the same packaging command as the README (./mvnw -B -DskipTests package);
# tests run in CI (.ci/run), not in the image build. No secret is baked in: the admin token, the
# registry password and the Redis URL come from the environment at run time (see docs/operations.md).

########## build: compile and package with the Maven Wrapper, then split the jar into layers
FROM eclipse-temurin:25-jdk AS build
WORKDIR /workspace

# the wrapper and the POM first, so a source-only change reuses the cached layers above it
COPY mvnw pom.xml ./
COPY .mvn/ .mvn/
COPY src/ src/
# BuildKit cache for ~/.m2: dependencies are downloaded once per builder, not per build
RUN --mount=type=cache,target=/root/.m2 \
    ./mvnw -B -DskipTests package

# Spring Boot's layered jar (layers are enabled in pom.xml): dependencies, spring-boot-loader,
# snapshot-dependencies, application, each extracted to its own directory with the launcher
RUN cp target/usage-guard-*.jar app.jar \
 && java -Djarmode=tools -jar app.jar extract --layers --launcher --destination /layers

########## runtime: a JRE only, non-root, read-only-root-filesystem friendly
FROM eclipse-temurin:25-jre

# a fixed non-root uid/gid (10001) that the Helm chart's securityContext names explicitly
RUN groupadd --system --gid 10001 usageguard \
 && useradd --system --uid 10001 --gid usageguard --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin usageguard

WORKDIR /app
# least to most frequently changing, one image layer each
COPY --from=build /layers/dependencies/ ./
COPY --from=build /layers/spring-boot-loader/ ./
COPY --from=build /layers/snapshot-dependencies/ ./
COPY --from=build /layers/application/ ./
# ./data holds the embedded H2 registry when no PostgreSQL URL is configured (single replica only);
# with a read-only root filesystem Kubernetes mounts an emptyDir here and on /tmp
RUN mkdir -p /app/data && chown 10001:10001 /app/data

USER 10001:10001

# Size the heap from the container's memory limit, and let the orchestrator restart the process
# instead of limping on after an OutOfMemoryError. Override with JAVA_TOOL_OPTIONS at run time.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"

# 8080: the inference API (server.port); 8081: management: health, prometheus, admin API
# (management.server.port), never to be exposed publicly
EXPOSE 8080 8081

# No HEALTHCHECK: the runtime image has no HTTP client, and Kubernetes ignores HEALTHCHECK in favour
# of the chart's probes on /actuator/health/liveness and /actuator/health/readiness (port 8081).

ENTRYPOINT ["java", "org.springframework.boot.loader.launch.JarLauncher"]
