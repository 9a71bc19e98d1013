using Npgsql;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Synthetic;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>The synthetic handler run directly, with its effects in a real database.</summary>
public sealed class SyntheticJobHandlerTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(fixture.Database.ConnectionString);

    private SyntheticJobHandler Handler => new(new SyntheticEffectStore(_dataSource));

    private static string NewJobId() => $"job-{Guid.NewGuid():N}";

    [Fact]
    public async Task Run_FromTheStart_AppliesEveryItemOnceAndCheckpointsEveryN()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10}""", policy: new CheckpointPolicy(3, TimeSpan.FromHours(1)));

        await Handler.RunAsync(context);

        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), context.Cursors);
        Assert.Equal(["3", "6", "9"], context.Checkpoints.Select(c => c.Cursor));
        Assert.Equal([3L, 6L, 9L], context.Checkpoints.Select(c => c.Processed));
        Assert.Equal(10, await EffectsAsync(job));
        Assert.Equal(10, await ExecutionsAsync(job));
        var progress = context.Progress.Snapshot();
        Assert.Equal(1.0, progress.Fraction);
        Assert.Equal(10, progress.Total);
    }

    [Fact]
    public async Task Run_FromACheckpoint_RunsOnlyTheItemsAfterIt()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10}""", new JobCheckpoint("6", 6, new Dictionary<string, long>()));

        await Handler.RunAsync(context);

        Assert.Equal(["7", "8", "9", "10"], context.Cursors);
        Assert.Equal([7L, 8L, 9L, 10L], await ExecutedItemsAsync(job));
        Assert.Equal(10, context.Progress.Snapshot().Processed);
    }

    [Fact]
    public async Task Run_RedoneAfterACrash_CountsExecutionsButNeverDuplicatesAnEffect()
    {
        var job = NewJobId();
        var policy = new CheckpointPolicy(4, TimeSpan.FromHours(1));
        using var first = new TestJobContext(job, """{"items": 10, "itemMs": 1}""", policy: policy);
        first.OnItemDone = cursor =>
        {
            if (cursor == "6")
            {
                first.Abort(); // the process dies after item 6; the last durable checkpoint is item 4
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Handler.RunAsync(first));
        var resumeFrom = first.Checkpoints[^1];

        using var second = new TestJobContext(job, """{"items": 10, "itemMs": 1}""", resumeFrom, attempt: 2, policy: policy);
        await Handler.RunAsync(second);

        Assert.Equal("4", resumeFrom.Cursor);
        Assert.Equal(10, await EffectsAsync(job));
        var redone = await RedoneItemsAsync(job);
        Assert.Equal([5L, 6L], redone);
        Assert.True(redone.Count <= policy.EveryItems, "a recovery may redo at most one checkpoint interval");
    }

    [Fact]
    public async Task Run_WhenStopRequestedBetweenItems_ReturnsWithoutStartingAnother()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10}""");
        context.OnItemDone = cursor =>
        {
            if (cursor == "3")
            {
                context.RequestStop();
            }
        };

        await Handler.RunAsync(context);

        Assert.Equal(["1", "2", "3"], context.Cursors);
        Assert.Equal([1L, 2L, 3L], await ExecutedItemsAsync(job));
    }

    [Fact]
    public async Task Run_WhenAbortedDuringAnItem_StopsAtOnceWithoutItsEffect()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 5, "itemMs": 30000}""");

        // Item 1 takes 30 s; whether the abort lands before or during it, nothing of it may stick.
        var run = Task.Run(() => Handler.RunAsync(context));
        context.Abort();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Empty(context.Cursors);
        Assert.Equal(0, await EffectsAsync(job));
    }

    [Fact]
    public async Task Run_FailAtItem_ThrowsThereAfterApplyingTheItemsBefore()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10, "failAtItem": 4}""");

        var error = await Assert.ThrowsAsync<SyntheticFailureException>(() => Handler.RunAsync(context));

        Assert.Equal(4, error.Item);
        Assert.Equal([1L, 2L, 3L], await ExecutedItemsAsync(job));
    }

    [Fact]
    public async Task Run_FailProbabilityOne_FailsAtTheFirstItem()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10, "failProbability": 1}""");

        var error = await Assert.ThrowsAsync<SyntheticFailureException>(() => Handler.RunAsync(context));

        Assert.Equal(1, error.Item);
        Assert.Equal(0, await EffectsAsync(job));
    }

    [Fact]
    public async Task Run_HangAtItem_IgnoresTheGracefulStopAndEndsOnlyOnAbort()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 5, "hangAtItem": 3}""");
        var run = Task.Run(() => Handler.RunAsync(context));
        await Wait.UntilAsync("the handler to hang at item 3", () =>
            Task.FromResult(context.Messages.Any(m => m.Text.Contains("hanging at item 3", StringComparison.Ordinal))));

        context.RequestStop();
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(500)));
        Assert.NotSame(run, finished);

        context.Abort();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(["1", "2"], context.Cursors);
        Assert.Equal([1L, 2L], await ExecutedItemsAsync(job));
    }

    [Fact]
    public async Task Run_WithRecordFalse_WritesNoEffects()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 20, "record": false}""");

        await Handler.RunAsync(context);

        Assert.Equal(20, context.Cursors.Count);
        Assert.Equal(0, await ExecutionsAsync(job));
    }

    [Fact]
    public async Task Run_WhenItsRunIsSuperseded_StopsAtItsNextReport()
    {
        var job = NewJobId();
        using var context = new TestJobContext(job, """{"items": 10}""");
        context.OnItemDone = cursor => context.Superseded = cursor == "2";

        await Assert.ThrowsAsync<JobRunSupersededException>(() => Handler.RunAsync(context));

        // Item 3's effect was applied before its report was refused; item 4 never ran.
        Assert.Equal([1L, 2L, 3L], await ExecutedItemsAsync(job));
    }

    public void Dispose() => _dataSource.Dispose();

    private Task<int> EffectsAsync(string job) =>
        fixture.Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @job", ("job", job));

    private Task<int> ExecutionsAsync(string job) =>
        fixture.Database.ScalarAsync<int>("SELECT coalesce(sum(executions), 0) FROM synthetic_item_executions WHERE job_id = @job", ("job", job));

    private Task<List<long>> ExecutedItemsAsync(string job) => fixture.Database.QueryAsync(
        "SELECT item FROM synthetic_item_executions WHERE job_id = @job ORDER BY item", r => r.GetInt64(0), ("job", job));

    private Task<List<long>> RedoneItemsAsync(string job) => fixture.Database.QueryAsync(
        "SELECT item FROM synthetic_item_executions WHERE job_id = @job AND executions > 1 ORDER BY item", r => r.GetInt64(0), ("job", job));
}
