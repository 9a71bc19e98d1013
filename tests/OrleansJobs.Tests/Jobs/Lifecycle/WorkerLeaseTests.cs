using Microsoft.Extensions.Time.Testing;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Tests.Jobs.Lifecycle;

/// <summary>Worker leases in the lifecycle, on fake time: claim, reports, forged tokens, lapses.</summary>
public sealed class WorkerLeaseTests
{
    private static readonly ResourceKey Slot = ResourceKey.RunSlot("remote");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
    private readonly JobTypeOptions _options = new() { External = true, MaxRecoveries = 1, StallTimeout = TimeSpan.FromMinutes(1) };
    private readonly JobState _state = new();
    private readonly JobLifecycle _life;

    public WorkerLeaseTests()
    {
        _life = new JobLifecycle(_state, "job-1", "silo", type => type == "remote" ? _options : null, _time);
        _life.Submit(new JobSubmission("remote", "{}", 0, null, null, null, null, "api:test"), _options, "{}", "fp");
        _life.ResourceAnswered(Slot, new ResourceTicket(false, 0, 50, 1));
    }

    private WorkerLease Claim()
    {
        var (lease, decision) = _life.Claim("w1", TimeSpan.FromSeconds(10), "secret");
        Assert.True(decision.Save);
        return lease!;
    }

    private static WorkerReport Report(WorkerReportKind kind, string token, JobCheckpoint? checkpoint = null) => new(kind, token, null, checkpoint, null, null);

    [Fact]
    public void Claim_LeasesAQueuedJob_UnderATokenThatCarriesItsEpoch()
    {
        var lease = Claim();

        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.StartsWith($"{_state.RunEpoch}-", lease.LeaseToken, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow().AddSeconds(10), lease.LeaseExpiresAt);
        Assert.Null(_life.Claim("w2", TimeSpan.FromSeconds(10), "other").Lease); // one worker at a time
    }

    [Fact]
    public void Heartbeat_ExtendsTheLeaseInMemory_WithoutAWrite()
    {
        var lease = Claim();
        _time.Advance(TimeSpan.FromSeconds(8));

        var (result, decision) = _life.Report(Report(WorkerReportKind.Heartbeat, lease.LeaseToken));

        Assert.Equal(WorkerReportOutcome.Accepted, result.Outcome);
        Assert.False(decision.Save);
        Assert.Equal(_time.GetUtcNow().AddSeconds(10), result.LeaseExpiresAt);
    }

    [Fact]
    public void AForgedToken_IsRefused_AndAJobNoWorkerRunsSaysSo()
    {
        var lease = Claim();
        var (forged, nothing) = _life.Report(Report(WorkerReportKind.Complete, lease.LeaseToken + "x"));
        Assert.Equal(WorkerReportOutcome.LeaseLost, forged.Outcome);
        Assert.Equal(JobDecision.None, nothing);
        Assert.Equal(JobStatus.Running, _state.Status);

        _life.Report(Report(WorkerReportKind.Complete, lease.LeaseToken));
        var (late, _) = _life.Report(Report(WorkerReportKind.Heartbeat, lease.LeaseToken));
        var (madeUp, _) = _life.Report(Report(WorkerReportKind.Heartbeat, "not-a-lease"));

        Assert.Equal(WorkerReportOutcome.LeaseLost, late.Outcome); // the worker that held it lost its lease
        Assert.Equal(WorkerReportOutcome.NotLeased, madeUp.Outcome);
        Assert.Contains("the job is not run by a worker", madeUp.Detail, StringComparison.Ordinal);
        Assert.Equal(JobStatus.Completed, _state.Status);
    }

    [Fact]
    public void ALapsedLease_PutsTheJobBackInTheQueueWithItsCheckpoint_ThenPausesItWhenRecoveriesAreSpent()
    {
        var lease = Claim();
        _life.Report(Report(WorkerReportKind.Progress, lease.LeaseToken, new JobCheckpoint("12", 12, new Dictionary<string, long>())));
        _time.Advance(TimeSpan.FromSeconds(10));

        var lapsed = _life.LeaseCheck();

        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Equal("12", _state.Checkpoint.Cursor);
        // Out of the holders and into the queue again, in that order.
        Assert.Equal([new ReleaseResource(Slot), new AcquireResource(Slot)], lapsed.Effects.Where(e => e is ReleaseResource or AcquireResource));
        Assert.Equal(WorkerReportOutcome.LeaseLost, _life.Report(Report(WorkerReportKind.Heartbeat, lease.LeaseToken)).Result.Outcome);

        var second = Claim();
        Assert.Equal(1, _state.Attempt); // the same attempt continues
        _time.Advance(TimeSpan.FromSeconds(10));
        _life.LeaseCheck();
        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Equal(2, _state.Outbox.Count(e => e.Type == JournalEntryTypes.LeaseExpired));
        Assert.NotEqual(lease.LeaseToken, second.LeaseToken);
    }

    [Fact]
    public void AWorkerThatHeartbeatsWithoutProgress_IsStalled_AndLosesTheJob()
    {
        var lease = Claim();
        for (var i = 0; i < 7; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(9));
            _life.Report(Report(WorkerReportKind.Heartbeat, lease.LeaseToken));
        }

        _life.LeaseCheck();

        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Contains(_state.Outbox, e => e.Type == JournalEntryTypes.StallDetected && e.Reason!.Contains("worker w1 reported no progress", StringComparison.Ordinal));
    }

    [Fact]
    public void Pause_OfALeasedJob_EndsTheLeaseAtOnce()
    {
        var lease = Claim();

        var (kind, decision) = _life.Control(new JobControl(JobAction.Pause, "api:test", null, true));

        Assert.Equal(JobActionKind.Transition, kind);
        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Contains(new ForgetLease(), decision.Effects);
        Assert.Contains(new ReleaseResource(Slot), decision.Effects);
        Assert.Equal(WorkerReportOutcome.LeaseLost, _life.Report(Report(WorkerReportKind.Heartbeat, lease.LeaseToken)).Result.Outcome);
    }
}
