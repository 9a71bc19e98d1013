using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>The read-model projections written against a real database: idempotent, version-guarded, batched.</summary>
public sealed class ProjectionTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(fixture.Database.ConnectionString);

    private ProjectionWriter Writer => new(_dataSource);

    [Fact]
    public async Task Write_StoresEveryFieldOfRowsAndEntries_IncludingNulls()
    {
        var job = NewJobId();
        var row = Row(job, 3, JobStatus.Running) with
        {
            LibraryId = "photos", Total = null, OwnerSilo = "127.0.0.1:11111@1", StartedAt = T0.AddSeconds(1), Error = null,
        };
        var entry = new JobJournalEntry(job, 1, T0, "state_change", JobStatus.Queued, JobStatus.Running, "admitted", "system", "127.0.0.1:11111@1", """{"slot": 3}""");

        var written = await Writer.WriteAsync([row], [entry], CancellationToken.None);

        Assert.Equal((1, 1), written);
        var stored = await fixture.Database.QueryAsync(
            "SELECT status, library_id, total IS NULL, owner_silo, started_at, state_version, progress FROM job_index WHERE job_id = @job",
            r => (r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), r.GetInt64(5), r.GetDouble(6)),
            ("job", job));
        Assert.Equal(("Running", "photos", true, "127.0.0.1:11111@1", T0.AddSeconds(1), 3L, 0.5), Assert.Single(stored));
        var journal = await fixture.Database.QueryAsync(
            "SELECT seq, entry_type, from_status, to_status, reason, actor, data->>'slot' FROM job_journal WHERE job_id = @job",
            r => (r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6)),
            ("job", job));
        Assert.Equal((1L, "state_change", "Queued", "Running", "admitted", "system", "3"), Assert.Single(journal));
    }

    [Fact]
    public async Task Write_AnOlderVersion_NeverOverwritesANewerRow()
    {
        var job = NewJobId();
        await Writer.WriteAsync([Row(job, 5, JobStatus.Completed)], [], CancellationToken.None);

        var late = await Writer.WriteAsync([Row(job, 4, JobStatus.Running)], [], CancellationToken.None);

        Assert.Equal(0, late.IndexRows);
        Assert.Equal("Completed", await StatusAsync(job));
        await Writer.WriteAsync([Row(job, 6, JobStatus.Queued)], [], CancellationToken.None);
        Assert.Equal("Queued", await StatusAsync(job));
    }

    [Fact]
    public async Task Write_TheSameEntriesAgain_StoresThemOnce()
    {
        var job = NewJobId();
        var entries = Enumerable.Range(1, 5).Select(i => Entry(job, i)).ToList();
        await Writer.WriteAsync([], entries, CancellationToken.None);

        // A silo crashed after writing but before the grain cleared its outbox: it sends them again.
        var again = await Writer.WriteAsync([], [.. entries, Entry(job, 6)], CancellationToken.None);

        Assert.Equal(1, again.JournalEntries);
        Assert.Equal(6, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM job_journal WHERE job_id = @job", ("job", job)));
    }

    [Fact]
    public async Task Write_EntriesThatMayBeStored_DrawNoEventIdForThoseStored_AndAJobsIdsFollowItsSeq()
    {
        var job = NewJobId();
        var first = await Writer.WriteReturningAsync([], [Entry(job, 1), Entry(job, 2)], CancellationToken.None);
        var last = first.Inserted.Max(i => i.EventId);

        // A new activation sends its stored outbox again (1 and 2 are stored, 3 is not; 2 comes twice), then its new entry 4.
        var again = await Writer.WriteReturningAsync(
            [], [Entry(job, 1), Entry(job, 2), Entry(job, 3), Entry(job, 2), Entry(job, 4)], [true, true, true, true, false], CancellationToken.None);
        // An entry not stored, given twice (looked up once, once not): it goes once.
        var twice = await Writer.WriteReturningAsync([], [Entry(job, 5), Entry(job, 5)], [true, false], CancellationToken.None);
        var next = await Writer.WriteReturningAsync([], [Entry(job, 6)], CancellationToken.None);

        // An id drawn and skipped is never committed, and live readers wait for it: none may be drawn. A job's ids follow its seq.
        Assert.Equal(new[] { (3L, last + 1), (4L, last + 2) }, again.Inserted.Select(i => (i.Seq, i.EventId)));
        Assert.Equal(new[] { (5L, last + 3) }, twice.Inserted.Select(i => (i.Seq, i.EventId)));
        Assert.Equal(new[] { (6L, last + 4) }, next.Inserted.Select(i => (i.Seq, i.EventId)));
        var order = await fixture.Database.QueryAsync("SELECT seq FROM job_journal WHERE job_id = @job ORDER BY event_id", r => r.GetInt64(0), ("job", job));
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), order);
    }

    [Fact]
    public async Task Batcher_EntriesUpToMaybeStoredThrough_AreCheckedFirst_SoNoEventIdIsLost()
    {
        var job = NewJobId();
        await WithBatcherAsync(async batcher =>
        {
            await batcher.WriteAsync(Row(job, 1, JobStatus.Queued), [Entry(job, 1), Entry(job, 2)], maybeStoredThrough: 0);
            // The next activation: 1 and 2 from the stored outbox, 3 new.
            await batcher.WriteAsync(Row(job, 2, JobStatus.Running), [Entry(job, 1), Entry(job, 2), Entry(job, 3)], maybeStoredThrough: 2);
            // A caller that cannot tell (a purge, an import): everything is checked.
            await batcher.WriteAsync(null, [Entry(job, 3), Entry(job, 4)]);

            var ids = await fixture.Database.QueryAsync(
                "SELECT event_id FROM job_journal WHERE job_id = @job ORDER BY seq", r => r.GetInt64(0), ("job", job));
            Assert.Equal(4, ids.Count);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => ids[0] + i), ids);
            Assert.Equal("Running", await StatusAsync(job));
        });
    }

    [Fact]
    public async Task Write_OneJobTwiceInABatch_KeepsItsNewestRow()
    {
        var job = NewJobId();

        await Writer.WriteAsync([Row(job, 2, JobStatus.Running), Row(job, 7, JobStatus.Paused), Row(job, 3, JobStatus.Running)], [], CancellationToken.None);

        Assert.Equal("Paused", await StatusAsync(job));
    }

    [Fact]
    public async Task Write_AThousandJobsAndEntries_InOneCall()
    {
        var prefix = NewJobId();
        var rows = Enumerable.Range(0, 1000).Select(i => Row($"{prefix}-{i}", 1, JobStatus.Queued)).ToList();
        var entries = rows.Select(r => Entry(r.JobId, 1)).ToList();

        var written = await Writer.WriteAsync(rows, entries, CancellationToken.None);

        Assert.Equal((1000, 1000), written);
    }

    [Fact]
    public async Task Batcher_ManyConcurrentWriters_AllLandInFewerRoundTrips()
    {
        var prefix = NewJobId();
        await WithBatcherAsync(async batcher =>
        {
            var writes = Enumerable.Range(0, 500)
                .Select(i => batcher.WriteAsync(Row($"{prefix}-{i}", 1, JobStatus.Queued), [Entry($"{prefix}-{i}", 1), Entry($"{prefix}-{i}", 2)]))
                .ToList();
            await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(500, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM job_index WHERE job_id LIKE @p || '-%'", ("p", prefix)));
            Assert.Equal(1000, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM job_journal WHERE job_id LIKE @p || '-%'", ("p", prefix)));
            var stats = batcher.Stats;
            Assert.Equal(500, stats.Requests);
            Assert.InRange(stats.Batches, 1, 499);
        });
    }

    [Fact]
    public async Task Batcher_WhenOneRequestIsInvalid_FailsOnlyThatOne()
    {
        var prefix = NewJobId();
        await WithBatcherAsync(async batcher =>
        {
            var good = Enumerable.Range(0, 20).Select(i => batcher.WriteAsync(Row($"{prefix}-{i}", 1, JobStatus.Queued), [Entry($"{prefix}-{i}", 1)])).ToList();
            var poison = batcher.WriteAsync(null, [Entry($"{prefix}-bad", 1) with { DataJson = "{not json" }]);

            await Task.WhenAll(good).WaitAsync(TimeSpan.FromSeconds(60));
            await Assert.ThrowsAsync<PostgresException>(() => poison.WaitAsync(TimeSpan.FromSeconds(60)));

            Assert.Equal(20, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM job_journal WHERE job_id LIKE @p || '-%'", ("p", prefix)));
            Assert.Equal(1, batcher.Stats.RejectedRequests);
        });
    }

    public void Dispose() => _dataSource.Dispose();

    /// <summary>Runs <paramref name="test"/> against a started batcher, stopped afterwards.</summary>
    private async Task WithBatcherAsync(Func<ProjectionBatcher, Task> test)
    {
        using var batcher = new ProjectionBatcher(Writer, Options.Create(new ProjectionBatcherOptions()), NullLogger<ProjectionBatcher>.Instance);
        await batcher.StartAsync(CancellationToken.None);
        try
        {
            await test(batcher);
        }
        finally
        {
            await batcher.StopAsync(CancellationToken.None);
        }
    }

    private Task<string> StatusAsync(string job) =>
        fixture.Database.ScalarAsync<string>("SELECT status FROM job_index WHERE job_id = @job", ("job", job));

    private static string NewJobId() => $"p{Guid.NewGuid():N}";

    private static JobIndexRow Row(string job, long version, JobStatus status) => new(
        job, "synthetic", status, 0, null, null, 0.5, 5, 10, null, 1, 0, null, null, null,
        T0, null, null, null, null, T0.AddSeconds(version), version);

    private static JobJournalEntry Entry(string job, long seq) =>
        new(job, seq, T0.AddSeconds(seq), "state_change", null, JobStatus.Queued, "submitted", "api", null, null);
}
