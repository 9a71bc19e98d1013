using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process whose state validator runs only when asked, and the API host.</summary>
public sealed class ValidatorApiFixture() : ApiSystemFixture("validator", new Dictionary<string, string>
{
    ["Validator__ValidationInterval"] = "1.00:00:00",
    ["Validator__ValidateAtStart"] = "false",
    ["Validator__Settle"] = "00:00:01",
});

/// <summary>The state validator over real HTTP: a dry run changes nothing, a run repairs and is journaled in the totals, bad bodies are 400s.</summary>
public sealed class ValidatorApiTests(ValidatorApiFixture fixture) : IClassFixture<ValidatorApiFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task DryRunCountsWithoutRepairing_ARunRepairs_AndTheStatusAndSafeguardsShowTheTotals()
    {
        // The journal rows of a job that was purged: nothing owns them.
        var purged = $"purged-{Guid.NewGuid():N}";
        await fixture.Database.ExecuteAsync(
            "INSERT INTO job_journal (job_id, seq, at, entry_type) VALUES (@id, 1, now() - interval '1 hour', 'submitted'), (@id, 2, now() - interval '1 hour', 'state_change')",
            ("id", purged));

        var dry = await RunAsync("""{"dryRun": true}""");
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        Assert.Equal(2, dry.GetProperty("found").GetProperty("orphan_journal_rows").GetInt32());
        Assert.All(dry.GetProperty("repaired").EnumerateObject(), k => Assert.Equal(0, k.Value.GetInt32()));
        Assert.Equal(11, dry.GetProperty("found").EnumerateObject().Count()); // every kind, found or not
        Assert.Equal(2, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_journal WHERE job_id = @id", ("id", purged)));

        var run = await RunAsync("{}");
        Assert.Equal(2, run.GetProperty("repaired").GetProperty("orphan_journal_rows").GetInt32());
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_journal WHERE job_id = @id", ("id", purged)));
        // The silo's meters count what the validator found and repaired, by kind (the dry run's finding too).
        using (var scraper = new HttpClient())
        {
            var samples = PrometheusText.Parse(await scraper.GetStringAsync(fixture.Silo.Metrics));
            Assert.Equal(2, samples.Value("orleansjobs_validator_repaired_total", ("kind", "orphan_journal_rows")));
            Assert.Equal(4, samples.Value("orleansjobs_validator_found_total", ("kind", "orphan_journal_rows")));
        }

        var again = await RunAsync("{}");
        Assert.Equal(0, again.GetProperty("found").EnumerateObject().Sum(k => k.Value.GetInt32()));

        var status = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/validator", UriKind.Relative));
        Assert.True(status.GetProperty("totalRepaired").GetProperty("orphan_journal_rows").GetInt64() >= 2);
        Assert.Equal(again.GetProperty("startedAt").GetDateTimeOffset(), status.GetProperty("lastRun").GetProperty("startedAt").GetDateTimeOffset());
        var safeguards = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/safeguards/status", UriKind.Relative));
        Assert.True(safeguards.GetProperty("validator").GetProperty("runs").GetInt64() >= 2);
    }

    [Theory]
    [InlineData("""{"dryRun": "yes"}""")]
    [InlineData("""{"dryRun": 1}""")]
    [InlineData("[]")]
    public async Task ABodyThatIsNotARunRequest_Is400_AndRunsNothing(string body)
    {
        var runs = (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/validator", UriKind.Relative))).GetProperty("runs").GetInt64();
        using var response = await Http.PostJsonAsync("/api/admin/validator/run", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(runs, (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/validator", UriKind.Relative))).GetProperty("runs").GetInt64());
    }

    private async Task<JsonElement> RunAsync(string body)
    {
        using var response = await Http.PostJsonAsync("/api/admin/validator/run", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
