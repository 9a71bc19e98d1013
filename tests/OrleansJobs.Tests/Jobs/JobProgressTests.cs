using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Tests.Jobs;

public sealed class JobProgressTests
{
    [Fact]
    public void Fraction_IsProcessedOverTotal_AndZeroWhileTheTotalIsUnknown()
    {
        var progress = new JobProgressTracker();
        progress.AddProcessed(5);
        Assert.Equal(0, progress.Snapshot().Fraction);

        progress.SetTotal(20);
        var snapshot = progress.Snapshot();

        Assert.Equal(0.25, snapshot.Fraction);
        Assert.Equal(5, snapshot.Processed);
        Assert.Equal(20, snapshot.Total);
    }

    [Fact]
    public void Fraction_WithSubOperations_IsTheirWeightedMean()
    {
        var progress = new JobProgressTracker();
        var scan = progress.Operation("scan", weight: 1);
        var hash = progress.Operation("hash", weight: 3);
        scan.SetTotal(10);
        scan.Advance(10);
        hash.SetTotal(100);
        hash.Advance(50);

        var snapshot = progress.Snapshot();

        // (1 × 1.0 + 3 × 0.5) / 4
        Assert.Equal(0.625, snapshot.Fraction, precision: 10);
        Assert.Equal(["scan", "hash"], snapshot.Operations.Select(o => o.Name));
        hash.Complete();
        Assert.Equal(1.0, progress.Snapshot().Fraction);
    }

    [Fact]
    public void Fraction_StaysWithinZeroAndOne()
    {
        var progress = new JobProgressTracker(processed: 30, total: 10);
        Assert.Equal(1.0, progress.Snapshot().Fraction);

        var op = progress.Operation("copy", 2);
        op.SetTotal(4);
        op.Advance(9);
        Assert.Equal(1.0, progress.Snapshot().Fraction);
    }

    [Fact]
    public void Operation_WithTheSameName_IsTheSameOperation_AndBadWeightsAreRefused()
    {
        var progress = new JobProgressTracker();
        progress.Operation("scan", 1).Advance(2);
        progress.Operation("scan", 1).Advance(3);

        Assert.Equal(5, Assert.Single(progress.Snapshot().Operations).Processed);
        Assert.Throws<ArgumentOutOfRangeException>(() => progress.Operation("x", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => progress.Operation("x", double.NaN));
        Assert.Throws<ArgumentException>(() => progress.Operation(" ", 1));
    }

    [Fact]
    public async Task Tracker_CountsEveryItemReportedFromManyThreads()
    {
        var progress = new JobProgressTracker(total: 8000);
        var op = progress.Operation("work", 1);
        op.SetTotal(8000);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                progress.AddProcessed();
                op.Advance();
                Assert.InRange(progress.Snapshot().Fraction, 0, 1);
            }
        })));

        var snapshot = progress.Snapshot();
        Assert.Equal(8000, snapshot.Processed);
        Assert.Equal(8000, snapshot.Operations[0].Processed);
        Assert.Equal(1.0, snapshot.Fraction);
    }

    [Fact]
    public void MessageLog_KeepsTheNewestAndCutsLongMessages()
    {
        var log = new JobMessageLog(capacity: 3);
        for (var i = 1; i <= 5; i++)
        {
            log.Add(JobMessageLevel.Info, $"m{i}");
        }

        log.Add(JobMessageLevel.Error, new string('x', JobMessageLog.MaxLength + 50));

        var messages = log.Snapshot();
        Assert.Equal(["m4", "m5"], messages.Take(2).Select(m => m.Text));
        Assert.Equal(JobMessageLevel.Error, messages[2].Level);
        Assert.Equal(JobMessageLog.MaxLength + 1, messages[2].Text.Length);
        Assert.Equal(3, log.Dropped);
    }

    [Theory]
    [InlineData(0, 3600, false)]
    [InlineData(99, 4.9, false)]
    [InlineData(100, 0, true)]
    [InlineData(1, 5, true)]
    [InlineData(0, 0, false)]
    public void CheckpointPolicy_IsDueAfterNItemsOrTSeconds(long items, double seconds, bool due)
    {
        Assert.Equal(due, CheckpointPolicy.Default.IsDue(items, TimeSpan.FromSeconds(seconds)));
    }
}
