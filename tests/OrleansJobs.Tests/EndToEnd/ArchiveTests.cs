using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// Export and import over real HTTP between two systems: a round trip restores every field (active jobs Paused with an
/// imported entry), a second import changes nothing, an imported job resumes and completes; corrupt archives are
/// refused naming the line, writing nothing; the export's filters and their refusals.
/// </summary>
[RunsFor(70)]
public sealed class ArchiveTests(ArchiveFixture fixture) : IClassFixture<ArchiveFixture>
{
    /// <summary>What an import changes in every job's state (the rest must be as archived).</summary>
    private static readonly string[] ChangedOnImport =
    [
        "Version", "UpdatedAt", "ActiveSilo", "OwnerSilo", "JournalSeq", "Outbox", "WatchdogRegistered", "Held", "LockWaitUntil",
        "LeaseToken", "LeaseWorker", "LeaseExpiresAt", "HandedOverBy",
    ];

    /// <summary>... and in the state of a job that was waiting or running.</summary>
    private static readonly string[] ChangedWhenPaused = ["Status", "RetryAt", "QueuedReason"];

    [Fact]
    public async Task RoundTrip_IntoAnEmptyDatabase_RestoresEveryField_PausesActiveJobs_ASecondImportChangesNothing_AndAnImportedJobResumes()
    {
        var population = await fixture.PopulationAsync();
        var target = fixture.Target;
        var archive = await ArchiveFixture.ExportAsync(fixture.Source.Http);
        var lines = ArchiveFixture.Lines(archive);
        Assert.Equal("orleansjobs-archive", (string?)lines[0]["format"]);
        Assert.Equal(1, (int)lines[0]["version"]!);
        Assert.Equal(["library", "device", .. population.Statuses.Select(_ => "job"), "end"], lines.Skip(1).Select(l => (string)l["kind"]!));
        var jobs = lines.Where(l => (string?)l["kind"] == "job").ToDictionary(l => (string)l["id"]!);
        Assert.Equal(population.Statuses.Keys.Order(), jobs.Keys.Order());
        foreach (var (id, status) in population.Statuses)
        {
            Assert.Equal(status, (string?)jobs[id]["state"]!["Status"]);
        }

        Assert.Equal(0, await RowsAsync(target, "job_index") + await RowsAsync(target, "grain_state WHERE state_name <> 'validator'") + await RowsAsync(target, "libraries"));
        var (imported, first) = await ArchiveFixture.ImportAsync(target.Http, archive);
        Assert.True(imported == HttpStatusCode.OK, $"import: {(int)imported} {first}");
        var activeCount = population.Statuses.Values.Count(s => s is "Running" or "Queued");
        Assert.Equal(population.Statuses.Count, first.GetProperty("jobs").GetProperty("created").GetInt64());
        Assert.Equal(activeCount, first.GetProperty("jobs").GetProperty("pausedOnImport").GetInt64());
        Assert.Equal(0, first.GetProperty("jobs").GetProperty("failed").GetInt64() + first.GetProperty("jobs").GetProperty("skipped").GetInt64());
        Assert.Equal(1, first.GetProperty("libraries").GetProperty("created").GetInt64());
        Assert.Equal(1, first.GetProperty("devices").GetProperty("created").GetInt64());
        Assert.Equal(0, first.GetProperty("failures").GetArrayLength());
        foreach (var (id, line) in jobs)
        {
            var version = (long)line["state"]!["Version"]! + 1;
            await Wait.UntilAsync($"the index of imported job {id} to reach version {version}", async () => await target.Database.ScalarAsync<long>(
                "SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        }

        // Exported again from the target: every line as the source's archive had it, but what an import changes.
        var again = ArchiveFixture.Lines(await ArchiveFixture.ExportAsync(target.Http));
        Assert.Equal(lines.Where(l => (string?)l["kind"] is "library" or "device").Select(l => l.ToJsonString()),
            again.Where(l => (string?)l["kind"] is "library" or "device").Select(l => l.ToJsonString()));
        var restored = again.Where(l => (string?)l["kind"] == "job").ToDictionary(l => (string)l["id"]!);
        foreach (var (id, status) in population.Statuses)
        {
            AssertRestored(id, status, jobs[id], restored[id]);
        }

        Assert.Equal("Offline", await target.Database.ScalarAsync<string>("SELECT health FROM devices WHERE device_id = @id", ("id", population.Device)));
        Assert.True(((JsonArray)restored[population.Organize]["operations"]!).Count > 0);

        // A second import finds everything at the same or a newer version: it changes nothing.
        var before = await SnapshotAsync(target);
        var (status2, second) = await ArchiveFixture.ImportAsync(target.Http, archive);
        Assert.Equal(HttpStatusCode.OK, status2);
        Assert.Equal(population.Statuses.Count, second.GetProperty("jobs").GetProperty("skipped").GetInt64());
        Assert.Equal(0, second.GetProperty("jobs").GetProperty("created").GetInt64());
        Assert.Equal(1, second.GetProperty("libraries").GetProperty("skipped").GetInt64());
        Assert.Equal(1, second.GetProperty("devices").GetProperty("skipped").GetInt64());
        Assert.Equal(before, await SnapshotAsync(target));

        // Nothing started on its own; resumed, the scheduled job completes and the running one continues from its checkpoint.
        var queued = population.Statuses.Single(s => s.Value == "Queued").Key;
        var running = population.Statuses.Single(s => s.Value == "Running").Key;
        Assert.Equal("Paused", (await ArchiveFixture.GetAsync(target.Http, running)).GetProperty("status").GetString());
        await ArchiveFixture.ControlAsync(target.Http, queued, "resume");
        await ArchiveFixture.WaitForAsync(target.Http, queued, "Completed");
        var checkpoint = (long)jobs[running]["state"]!["Checkpoint"]!["Processed"]!;
        await ArchiveFixture.ControlAsync(target.Http, running, "resume");
        await Wait.ForAsync($"job {running} to run on from its checkpoint ({checkpoint})", () => ArchiveFixture.GetAsync(target.Http, running),
            j => j.GetProperty("status").GetString() == "Running" && j.GetProperty("progress").GetProperty("processed").GetInt64() > checkpoint);
        await ArchiveFixture.ControlAsync(target.Http, running, "kill");
        await ArchiveFixture.WaitForAsync(target.Http, running, "Killed");
        await ArchiveFixture.ControlAsync(fixture.Source.Http, running, "kill");
        var killed = (await ArchiveFixture.GetAsync(target.Http, running)).GetProperty("version").GetInt64();
        await Wait.UntilAsync("the target's index to settle", async () => await target.Database.ScalarAsync<long>(
            "SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", running)) >= killed);
    }

    [Fact]
    public async Task CorruptArchives_AreRefusedNamingTheLine_AndWriteNothing()
    {
        await fixture.PopulationAsync();
        var lines = ArchiveFixture.Lines(await ArchiveFixture.ExportAsync(fixture.Source.Http, "?status=Completed")).Select(l => l.ToJsonString()).ToList();
        var count = lines.Count;
        var valid = ArchiveFixture.Archive(lines);
        var target = fixture.Target;
        var before = await SnapshotAsync(target);
        var cases = new List<(string What, byte[] Archive, long Line, string Says)>
        {
            ("bad JSON on line 4", ArchiveFixture.Archive(lines.Select((l, i) => i == 3 ? l[..(l.Length / 2)] : l)), 4, "not valid JSON"),
            ("gzip cut short", valid[..(valid.Length * 2 / 3)], 0, ""),
            ("no end line", ArchiveFixture.Archive(lines.Take(count - 1)), count, "cut short"),
            ("wrong counts", ArchiveFixture.Archive(lines.Select((l, i) => i == count - 1 ? l.Replace("\"jobs\":", "\"jobs\":1", StringComparison.Ordinal) : l)), count, "end line counts"),
            ("an unknown kind", ArchiveFixture.Archive(lines.Take(4).Append("""{"kind": "widget"}""").Concat(lines.Skip(4))), 5, "no known kind"),
            ("a job state no job has", ArchiveFixture.Archive(lines.Select((l, i) => i == 3 ? Broken(l) : l)), 4, "state.Type"),
            ("a job line before a library line", ArchiveFixture.Archive([lines[0], lines[3], .. lines.Skip(1).Where((_, i) => i != 2)]), 3, "too late"),
            ("not gzip", "{\"format\": \"orleansjobs-archive\"}"u8.ToArray(), 1, "not gzip"),
            ("an empty body", [], 1, "empty"),
            ("a newer format", ArchiveFixture.Archive(lines.Select((l, i) => i == 0 ? l.Replace("\"version\":1", "\"version\":2", StringComparison.Ordinal) : l)), 1, "newer"),
        };
        foreach (var (what, archive, line, says) in cases)
        {
            var (status, problem) = await ArchiveFixture.ImportAsync(target.Http, archive);
            Assert.True(status == HttpStatusCode.BadRequest, $"{what}: {(int)status} {problem}");
            var message = problem.GetProperty("errors").GetProperty("body")[0].GetString()!;
            Assert.True(line == 0 ? problem.GetProperty("line").GetInt64() >= 1 : problem.GetProperty("line").GetInt64() == line, $"{what}: {problem}");
            Assert.True(message.StartsWith($"line {problem.GetProperty("line").GetInt64()}: ", StringComparison.Ordinal) && message.Contains(says, StringComparison.Ordinal),
                $"{what}: {message}");
        }

        var (wrongType, _) = await ArchiveFixture.ImportAsync(target.Http, valid, "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType);
        Assert.Equal(before, await SnapshotAsync(target));
    }

    [Fact]
    public async Task Export_TakesTheJobsItsFiltersName_AndRefusesBadFilters_NamingThem()
    {
        var population = await fixture.PopulationAsync();
        var http = fixture.Source.Http;
        async Task<HashSet<string>> JobsAsync(string query) => [.. ArchiveFixture.Lines(await ArchiveFixture.ExportAsync(http, query))
            .Where(l => (string?)l["kind"] == "job").Select(l => (string)l["id"]!)];
        // As they are now: another test may have stopped the running job.
        var now = new Dictionary<string, string>();
        foreach (var id in population.Statuses.Keys)
        {
            now[id] = (await ArchiveFixture.GetAsync(http, id)).GetProperty("status").GetString()!;
        }

        string[] Having(params string[] statuses) => [.. now.Where(s => statuses.Contains(s.Value)).Select(s => s.Key).Order()];

        Assert.Equal(Having("Completed"), (await JobsAsync("?status=Completed")).Order());
        Assert.Equal(Having("Failed", "Killed", "Cancelled"), (await JobsAsync("?status=Failed,Killed&status=Cancelled")).Order());
        Assert.Equal([population.Organize], await JobsAsync("?type=organize"));
        var queued = population.Statuses.Single(s => s.Value == "Queued").Key;
        var createdAt = (await ArchiveFixture.GetAsync(http, queued)).GetProperty("createdAt").GetDateTimeOffset();
        var fromQueued = await JobsAsync($"?createdAfter={Uri.EscapeDataString(createdAt.ToString("O"))}");
        Assert.Contains(queued, fromQueued);
        Assert.DoesNotContain(queued, await JobsAsync($"?createdBefore={Uri.EscapeDataString(createdAt.ToString("O"))}"));
        var none = ArchiveFixture.Lines(await ArchiveFixture.ExportAsync(http, "?createdAfter=2999-01-01T00:00:00Z"));
        Assert.Equal(["library", "device", "end"], none.Skip(1).Select(l => (string)l["kind"]!));
        Assert.Equal(0, (long)none[^1]["jobs"]!);
        Assert.Equal("2999-01-01T00:00:00+00:00", (string?)none[0]["filter"]!["createdAfter"]);

        foreach (var (query, field) in new[]
        {
            ("status=Bogus", "status"), ("status=1", "status"), ("createdAfter=yesterday", "createdAfter"), ("type=%00", "type"),
            ("createdAfter=2026-02-01T00:00:00Z&createdBefore=2026-01-01T00:00:00Z", "createdBefore"),
        })
        {
            using var response = await http.GetAsync(new Uri($"/api/admin/export?{query}", UriKind.Relative));
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)response.StatusCode} {problem}");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{query}: no error for {field} in {problem}");
        }
    }

    [Fact]
    public async Task TheDocument_DescribesTheArchiveAsGzip_BothWays()
    {
        var document = await fixture.Source.Http.GetFromJsonAsync<JsonElement>(new Uri("/openapi/v1.json", UriKind.Relative));
        var paths = document.GetProperty("paths");
        var export = paths.GetProperty("/api/admin/export").GetProperty("get");
        var import = paths.GetProperty("/api/admin/import").GetProperty("post");
        Assert.True(export.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("application/gzip", out _), export.ToString());
        Assert.Equal(["application/gzip"], import.GetProperty("requestBody").GetProperty("content").EnumerateObject().Select(c => c.Name));
        Assert.True(import.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("application/json", out _), import.ToString());
        Assert.True(import.GetProperty("responses").TryGetProperty("400", out _), import.ToString());
    }

    private static void AssertRestored(string id, string status, JsonObject archived, JsonObject restored)
    {
        var pausedOnImport = status is "Running" or "Queued";
        var before = archived["state"]!.AsObject();
        var after = restored["state"]!.AsObject();
        Assert.Equal((long)before["Version"]! + 1, (long)after["Version"]!);
        Assert.Equal(pausedOnImport ? "Paused" : status, (string?)after["Status"]);
        Assert.Null(after["OwnerSilo"]);
        Assert.True(after["Held"] is null || after["Held"]!.AsArray().Count == 0, $"job {id} holds {after["Held"]}");
        Assert.NotEqual(true, (bool?)after["WatchdogRegistered"]);
        string[] changed = pausedOnImport ? [.. ChangedOnImport, .. ChangedWhenPaused] : ChangedOnImport;
        Assert.True(JsonNode.DeepEquals(Without(before, changed), Without(after, changed)), $"job {id}:\narchived {before}\nrestored {after}");

        // The journal: every archived entry (the state's outbox included), then the import's own.
        var journal = restored["journal"]!.AsArray();
        var expected = archived["journal"]!.AsArray().Select(e => e!.ToJsonString()).ToList();
        Assert.Equal(expected, journal.Take(expected.Count).Select(e => e!.ToJsonString()));
        var entry = journal[^1]!;
        Assert.Equal("imported", (string?)entry["type"]);
        Assert.Equal(status, (string?)entry["from"]);
        Assert.Equal(pausedOnImport ? "Paused" : status, (string?)entry["to"]);
        Assert.Equal(status, (string?)entry["data"]!["originalStatus"]);
        Assert.Equal((long)after["JournalSeq"]!, (long)entry["seq"]!);
        Assert.Equal(archived["operations"]!.ToJsonString(), restored["operations"]!.ToJsonString());
    }

    private static JsonObject Without(JsonObject state, string[] keys)
    {
        var copy = state.DeepClone().AsObject();
        foreach (var key in keys)
        {
            copy.Remove(key);
        }

        return copy;
    }

    /// <summary>A job line whose state has no type: no job state is like that.</summary>
    private static string Broken(string line)
    {
        var job = JsonNode.Parse(line)!;
        job["state"]!["Type"] = "";
        return job.ToJsonString();
    }

    private static Task<long> RowsAsync(ApiSystemFixture system, string table) => system.Database.ScalarAsync<long>($"SELECT count(*) FROM {table}");

    /// <summary>Every row an import writes, as text.</summary>
    private static async Task<string> SnapshotAsync(ApiSystemFixture system)
    {
        var rows = new List<string>();
        foreach (var sql in new[]
        {
            "SELECT grain_id, state_name, version, encode(payload, 'hex') FROM grain_state WHERE state_name <> 'validator' ORDER BY 1, 2",
            "SELECT * FROM job_index ORDER BY job_id",
            "SELECT * FROM job_journal ORDER BY job_id, seq",
            "SELECT * FROM file_operations ORDER BY job_id, op_seq",
            "SELECT * FROM libraries ORDER BY library_id",
            "SELECT * FROM devices ORDER BY device_id",
        })
        {
            rows.AddRange(await system.Database.QueryAsync(sql, r => string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "∅" : r.GetValue(i).ToString()))));
        }

        return string.Join("\n", rows);
    }
}
