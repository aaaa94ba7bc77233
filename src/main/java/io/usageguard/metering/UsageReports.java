package io.usageguard.metering;

import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.usageguard.admin.AdminException;
import io.usageguard.registry.RegistryRepository;
import org.springframework.stereotype.Service;

/**
 * Answers {@code GET /admin/accounts/{id}/usage}: an account's usage per day and model, from the
 * table plus whatever this replica counted and has not flushed yet (so an answer is never up to
 * {@code flush-interval} behind for requests this replica served). Blocking.
 */
@Service
public class UsageReports {

    private static final Pattern ACCOUNT_ID = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");
    private static final Pattern DATE = Pattern.compile("\\d{4}-\\d{2}-\\d{2}");

    private final UsageMeter meter;
    private final UsageRepository usage;
    private final RegistryRepository registry;
    private final MeteringProperties properties;
    private final Clock clock;

    public UsageReports(UsageMeter meter, UsageRepository usage, RegistryRepository registry,
                        MeteringProperties properties, Clock clock) {
        this.meter = meter;
        this.usage = usage;
        this.registry = registry;
        this.properties = properties;
        this.clock = clock;
    }

    public record Totals(
            long requests,
            @JsonProperty("rejected_requests") long rejectedRequests,
            @JsonProperty("prompt_tokens") long promptTokens,
            @JsonProperty("completion_tokens") long completionTokens,
            @JsonProperty("total_tokens") long totalTokens) {

        static Totals of(UsageCounts c) {
            return new Totals(c.requests(), c.rejectedRequests(), c.promptTokens(), c.completionTokens(),
                    c.promptTokens() + c.completionTokens());
        }
    }

    public record DayModel(
            String day,
            String model,
            long requests,
            @JsonProperty("rejected_requests") long rejectedRequests,
            @JsonProperty("prompt_tokens") long promptTokens,
            @JsonProperty("completion_tokens") long completionTokens,
            @JsonProperty("total_tokens") long totalTokens) {
    }

    public record Report(
            @JsonProperty("account_id") String accountId,
            String from,
            String to,
            List<DayModel> data,
            Totals total) {
    }

    /** {@code from}/{@code to} as given in the query (ISO dates, inclusive); null means the default. */
    public Report report(String accountId, String fromParam, String toParam) {
        if (accountId == null || !ACCOUNT_ID.matcher(accountId).matches()) {
            throw AdminException.badRequest("account ids are 1–128 of [A-Za-z0-9._:@-].");
        }
        LocalDate to = toParam == null ? LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC) : date("to", toParam);
        LocalDate from = fromParam == null ? to.minusDays(29) : date("from", fromParam);
        if (from.isAfter(to)) {
            throw AdminException.badRequest("from must not be after to.");
        }
        long days = ChronoUnit.DAYS.between(from, to) + 1;
        if (days > properties.maxQueryDays()) {
            throw AdminException.badRequest("The range is " + days + " days; at most " + properties.maxQueryDays()
                    + " days can be asked for at once.");
        }
        if (registry.findAccount(accountId).isEmpty()) {
            throw AdminException.notFound("No account " + accountId + ".");
        }
        Map<String, Map<String, UsageCounts>> byDay = new TreeMap<>();
        List<UsageRepository.DayModelRow> rows = meter.withUnflushed(accountId, from, to,
                () -> usage.totals(accountId, from, to),
                (k, c) -> byDay.computeIfAbsent(k.day().toString(), d -> new TreeMap<>()).merge(k.model(), c,
                        UsageCounts::plus));
        for (UsageRepository.DayModelRow r : rows) {
            byDay.computeIfAbsent(r.day().toString(), d -> new TreeMap<>()).merge(r.model(), r.counts(),
                    UsageCounts::plus);
        }
        List<DayModel> data = new ArrayList<>();
        UsageCounts total = UsageCounts.ZERO;
        for (var day : byDay.entrySet()) {
            for (var model : day.getValue().entrySet()) {
                UsageCounts c = model.getValue();
                data.add(new DayModel(day.getKey(), model.getKey(), c.requests(), c.rejectedRequests(),
                        c.promptTokens(), c.completionTokens(), c.promptTokens() + c.completionTokens()));
                total = total.plus(c);
            }
        }
        return new Report(accountId, from.toString(), to.toString(), data, Totals.of(total));
    }

    private static LocalDate date(String name, String value) {
        if (!DATE.matcher(value).matches()) {
            throw AdminException.badRequest(name + " must be a date like 2026-11-23.");
        }
        try {
            return LocalDate.parse(value);
        } catch (DateTimeParseException e) {
            throw AdminException.badRequest(name + " is not a valid date.");
        }
    }
}
