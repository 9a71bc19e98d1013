using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process with an external job type of the metrics tests' own, and the API host process.</summary>
public sealed class MetricsFixture() : ApiSystemFixture("metrics", new Dictionary<string, string>
{
    [$"ExternalJobTypes__{MetricsTests.Type}__MinLeaseDuration"] = "00:00:01",
    [$"ExternalJobTypes__{MetricsTests.Type}__MaxLeaseDuration"] = "00:10:00",
});

/// <summary>
/// A known workload of an external job type, run by hand through the worker API, then the silo's and
/// the API host's <c>/metrics</c> scraped and read: every count is exact.
/// </summary>
public sealed class MetricsTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>
{
    public const string Type = "ext-metrics";

    private static readonly (string, string) OfType = ("job_type", Type);

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task KnownWorkload_IsCountedExactly_OnTheSilo_AndTheApiHostsGaugesShowWhatWaitsAndRuns()
    {
        // 5 completed; 2 failed (no retry); 1 cancelled while queued; 1 killed while running;
        // 1 whose lease lapsed, claimed again and completed; 1 left running; 2 left queued.
        for (var i = 0; i < 5; i++)
        {
            var (id, claim) = await SubmitAndClaimAsync(leaseSeconds: 60);
            Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, claim, "complete"));
        }

        for (var i = 0; i < 2; i++)
        {
            var (id, claim) = await SubmitAndClaimAsync(leaseSeconds: 60, maxAttempts: 1);
            Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, claim, "fail", """, "error": "broken frame" """));
        }

        var cancelled = await SubmitAsync();
        Assert.Equal(HttpStatusCode.OK, await ControlAsync(cancelled, "cancel"));
        var (killed, _) = await SubmitAndClaimAsync(leaseSeconds: 60);
        Assert.Equal(HttpStatusCode.OK, await ControlAsync(killed, "kill"));

        var (lapsed, _) = await SubmitAndClaimAsync(leaseSeconds: 1);
        await Wait.ForAsync($"job {lapsed} back in the queue after its lease lapsed", () => StatusAsync(lapsed), s => s == "Queued", TimeSpan.FromSeconds(20));
        var again = await Wait.ForAsync($"job {lapsed} claimable again", () => TryClaimAsync(60), c => c.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(20));
        Assert.Equal(lapsed, again.GetProperty("jobId").GetString());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(lapsed, again, "complete"));

        await SubmitAndClaimAsync(leaseSeconds: 600);
        await SubmitAsync();
        await SubmitAsync();

        using (var device = await Http.PostJsonAsync("/api/devices", """{"id": "metrics-1", "kind": "metrics-plotter", "name": "Metrics"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, device.StatusCode);
        }

        // The silo counts each journal entry when its write is stored, before the request is answered;
        // the exporter may serve a scrape up to 300 ms old.
        var silo = await ScrapeUntilAsync(fixture.Silo.Metrics, s => s.Value("orleansjobs_jobs_submitted_total", OfType) == 13);
        Assert.Equal(11, silo.Value("orleansjobs_jobs_started_total", OfType));
        Assert.Equal(6, silo.Value("orleansjobs_jobs_finished_total", OfType, ("status", "Completed")));
        Assert.Equal(2, silo.Value("orleansjobs_jobs_finished_total", OfType, ("status", "Failed")));
        Assert.Equal(1, silo.Value("orleansjobs_jobs_finished_total", OfType, ("status", "Cancelled")));
        Assert.Equal(1, silo.Value("orleansjobs_jobs_finished_total", OfType, ("status", "Killed")));
        Assert.Equal(1, silo.Value("orleansjobs_job_lease_lapses_total", OfType));
        Assert.Equal(1, silo.Value("orleansjobs_job_recoveries_total", OfType));
        Assert.Equal(0, silo.Value("orleansjobs_job_stalls_total", OfType));
        // Every start waited in the queue; every run that ended (not the job cancelled while queued) has a duration.
        Assert.Equal(11, silo.Value("orleansjobs_job_queue_wait_seconds_count", OfType));
        Assert.Equal(6, silo.Value("orleansjobs_job_run_duration_seconds_count", OfType, ("status", "Completed")));
        Assert.Equal(2, silo.Value("orleansjobs_job_run_duration_seconds_count", OfType, ("status", "Failed")));
        Assert.Equal(1, silo.Value("orleansjobs_job_run_duration_seconds_count", OfType, ("status", "Killed")));
        Assert.Equal(0, silo.Value("orleansjobs_job_run_duration_seconds_count", OfType, ("status", "Cancelled")));
        // A run slot granted to each start; the two jobs still queued and the one cancelled never got one.
        Assert.Equal(11, silo.Value("orleansjobs_resource_wait_seconds_count", ("resource_kind", "slot")));
        Assert.True(silo.Value("orleansjobs_job_state_write_seconds_count") >= 13 + 11 + 10);
        // Orleans' own meters come along.
        Assert.Contains(silo, s => s.Name.StartsWith("orleans_", StringComparison.Ordinal));

        // Prometheus scrapes the API host with a reader key (its scrape config's authorization).
        var api = await ScrapeUntilAsync(new Uri(Http.BaseAddress!, "/metrics"), await fixture.CreateKeyAsync("prometheus", ["reader"]),
            s => s.Value("orleansjobs_jobs_active", OfType, ("status", "Queued")) == 2 && s.Value("orleansjobs_jobs_active", OfType, ("status", "Running")) == 1);
        Assert.Equal(0, api.Value("orleansjobs_jobs_active", OfType, ("status", "Paused")));
        var state = (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/devices/metrics-1", UriKind.Relative))).GetProperty("state").GetString()!;
        Assert.Equal(1, api.Value("orleansjobs_devices", ("kind", "metrics-plotter"), ("state", state)));
        Assert.Contains(api, s => s.Name.StartsWith("http_server_request_duration_seconds", StringComparison.Ordinal));

        // Both scrapes are Prometheus text that promtool accepts, and our metrics pass its naming rules.
        using var scraper = fixture.ClientWithKey(await fixture.CreateKeyAsync("promtool", ["reader"]));
        foreach (var endpoint in new[] { fixture.Silo.Metrics, new Uri(Http.BaseAddress!, "/metrics") })
        {
            var text = await scraper.GetStringAsync(endpoint);
            // 0: clean; 3: lint findings only. Orleans' and the runtime's meters break its naming rules (milliseconds, no help); ours may not.
            var (exitCode, output) = await AlertRulesTests.PromtoolAsync(text, "check", "metrics");
            Assert.True(exitCode is 0 or 3, $"{endpoint}: promtool check metrics exited {exitCode}:\n{output}");
            var ours = output.Split('\n').Where(l => l.StartsWith("orleansjobs_", StringComparison.Ordinal)).ToList();
            Assert.True(ours.Count == 0, $"{endpoint}: promtool finds fault with our metrics:\n{string.Join("\n", ours)}");
        }
    }

    [Fact]
    public async Task Readiness_KeepsItsReport_OnHealthChecks()
    {
        using var response = await Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", report.GetProperty("status").GetString());
        Assert.Equal(
            ["status", "database", "cluster", "checkedAt"],
            report.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["healthy", "latencyMs", "schemaVersion", "error"], report.GetProperty("database").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["healthy", "activeSilos", "silos", "latencyMs", "error"], report.GetProperty("cluster").EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, report.GetProperty("cluster").GetProperty("activeSilos").GetInt32());
        Assert.Equal(fixture.Silo.Endpoint, report.GetProperty("cluster").GetProperty("silos")[0].GetString()![..fixture.Silo.Endpoint.Length]);
    }

    private static Task<List<PrometheusSample>> ScrapeUntilAsync(Uri endpoint, Func<List<PrometheusSample>, bool> accept) =>
        ScrapeUntilAsync(endpoint, null, accept);

    private static async Task<List<PrometheusSample>> ScrapeUntilAsync(Uri endpoint, string? key, Func<List<PrometheusSample>, bool> accept)
    {
        using var scraper = new HttpClient();
        if (key is not null)
        {
            ApiKeys.Authorize(scraper, key);
        }

        return await Wait.ForAsync($"{endpoint} to show the workload", async () => PrometheusText.Parse(await scraper.GetStringAsync(endpoint)),
            accept, TimeSpan.FromSeconds(15));
    }

    private async Task<(string Id, JsonElement Claim)> SubmitAndClaimAsync(double leaseSeconds, int? maxAttempts = null)
    {
        var id = await SubmitAsync(maxAttempts);
        var claim = await TryClaimAsync(leaseSeconds);
        Assert.True(claim.ValueKind == JsonValueKind.Object, $"job {id} was not claimable");
        Assert.Equal(id, claim.GetProperty("jobId").GetString());
        return (id, claim);
    }

    private Task<string> SubmitAsync(int? maxAttempts = null) =>
        Http.SubmitJobAsync($$"""{"type": "{{Type}}", "parameters": {}{{(maxAttempts is { } m ? $", \"maxAttempts\": {m}" : "")}}}""");

    private async Task<JsonElement> TryClaimAsync(double leaseSeconds)
    {
        using var response = await Http.PostJsonAsync("/api/workers/claim",
            $$"""{"workerId": "w-metrics", "types": ["{{Type}}"], "leaseSeconds": {{leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent, $"claim answered {(int)response.StatusCode}");
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>() : default;
    }

    private async Task<HttpStatusCode> ReportAsync(string id, JsonElement claim, string report, string extra = "")
    {
        using var response = await Http.PostJsonAsync($"/api/jobs/{id}/{report}", $$"""{"leaseToken": "{{claim.GetProperty("leaseToken").GetString()}}"{{extra}}}""");
        return response.StatusCode;
    }

    private async Task<HttpStatusCode> ControlAsync(string id, string action)
    {
        using var response = await Http.PostJsonAsync($"/api/jobs/{id}/{action}", "{}");
        return response.StatusCode;
    }

    private async Task<string> StatusAsync(string id) =>
        (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative))).GetProperty("status").GetString()!;
}
