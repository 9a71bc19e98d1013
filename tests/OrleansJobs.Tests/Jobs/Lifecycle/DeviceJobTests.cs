using Microsoft.Extensions.Time.Testing;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Tests.Jobs.Lifecycle;

/// <summary>Device jobs in the lifecycle, on fake time: owned device, agent's claim, interruption, return, release, pool assignment.</summary>
public sealed class DeviceJobTests
{
    private static readonly ResourceKey Plotter1 = ResourceKey.Device("plotter-1");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
    private readonly JobTypeOptions _manual = new() { External = true, DeviceKind = "plotter" };
    private readonly JobTypeOptions _auto = new() { External = true, DeviceKind = "plotter", ResumeAfterReconnect = true };
    private readonly JobState _state = new();
    private readonly JobLifecycle _life;

    public DeviceJobTests()
    {
        _life = new JobLifecycle(_state, "job-1", "silo", type => type switch { "plot" => _manual, "plot-auto" => _auto, _ => null }, _time);
    }

    private JobDecision Submit(string type = "plot", string? device = "plotter-1", string? kind = null) =>
        _life.Submit(new JobSubmission(type, "{}", 0, null, null, null, null, "api:test", Device: device, DeviceKind: kind), type == "plot" ? _manual : _auto, "{}", "fp");

    private WorkerLease Claim()
    {
        var (lease, _) = _life.Claim("agent-1", TimeSpan.FromSeconds(10), "secret");
        return lease!;
    }

    private void GrantedAndClaimed(string type = "plot")
    {
        Submit(type);
        _life.ResourceAnswered(Plotter1, new ResourceTicket(true, 1, 1, 0));
        Claim();
        _life.Report(new WorkerReport(WorkerReportKind.Progress, _state.LeaseToken!, null, new JobCheckpoint("layer-2", 40, new Dictionary<string, long>()), null, null));
    }

    [Fact]
    public void ADeviceJob_AsksForItsDeviceOnly_AndWaitsForTheAgentOnceGranted()
    {
        var decision = Submit();

        var acquire = Assert.Single(decision.Effects.OfType<AcquireResource>());
        Assert.Equal(Plotter1, acquire.Key); // no run slot of the type: the device is the limit
        _life.ResourceAnswered(Plotter1, new ResourceTicket(true, 1, 1, 0));
        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Contains("waiting for the agent of device 'plotter-1'", _state.QueuedReason, StringComparison.Ordinal);
        Assert.DoesNotContain(_life.Granted(Plotter1).Effects, e => e is StartRun);
        Assert.Equal(JobStatus.Running, (Claim(), _state.Status).Item2);
    }

    [Fact]
    public void NotYetGranted_TheAgentCannotClaimIt()
    {
        Submit();
        _life.ResourceAnswered(Plotter1, new ResourceTicket(false, 1, 1, 1, Holder: "job-0"));

        Assert.Null(_life.Claim("agent-1", TimeSpan.FromSeconds(10), "secret").Lease);
        Assert.Contains("owned by job job-0", _state.QueuedReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Interrupted_PausesAtOnce_KeepsTheDeviceAndTheCheckpoint_AndCountsNoAttempt()
    {
        GrantedAndClaimed();

        var decision = _life.DeviceInterrupted("plotter-1", "heartbeat_lost");

        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Equal("heartbeat_lost", _state.Interruption);
        Assert.Null(_state.LeaseToken);
        Assert.Equal("layer-2", _state.Checkpoint.Cursor);
        Assert.Equal(1, _state.Attempt);
        Assert.DoesNotContain(decision.Effects, e => e is ReleaseResource);
        Assert.Contains(Plotter1.ToString(), _state.Held);
        Assert.Equal(ResourceClaim.Holds, _life.ClaimOn(Plotter1));
        Assert.Contains(_state.Outbox, e => e.Type == JournalEntryTypes.EmergencyShutdown && e.DataJson!.Contains("heartbeat_lost", StringComparison.Ordinal));
        Assert.Equal(JobDecision.None, _life.DeviceInterrupted("plotter-1", "again")); // paused already: nothing more
        Assert.Equal(JobDecision.None, _life.DeviceBack("plotter-1")); // "plot" waits for an operator
    }

    [Fact]
    public void AnOperatorsResume_ContinuesTheSameAttemptFromTheCheckpoint_JournaledAsARecovery()
    {
        GrantedAndClaimed();
        _life.DeviceInterrupted("plotter-1", "heartbeat_lost");

        _life.Control(new JobControl(JobAction.Resume, "api:op", null, false));

        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Null(_state.Interruption);
        Assert.Contains(_state.Outbox, e => e.Type == JournalEntryTypes.Recovery && e.Reason!.Contains("heartbeat_lost", StringComparison.Ordinal));
        var lease = Claim();
        Assert.Equal("layer-2", lease.Checkpoint.Cursor);
        Assert.Equal(1, lease.Attempt);
    }

    [Fact]
    public void AnAutoResumeJob_ContinuesWhenItsDeviceIsBack()
    {
        GrantedAndClaimed("plot-auto");
        _life.DeviceInterrupted("plotter-1", "pen carriage jammed");

        _life.DeviceBack("plotter-1");

        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Contains(_state.Outbox, e => e.Type == JournalEntryTypes.Recovery && e.Reason!.Contains("pen carriage jammed", StringComparison.Ordinal));
        Assert.Equal("layer-2", Claim().Checkpoint.Cursor);
    }

    [Fact]
    public void ALapsedLease_PausesADeviceJob_NeverRequeuesIt()
    {
        GrantedAndClaimed();
        _time.Advance(TimeSpan.FromSeconds(11));

        var decision = _life.LeaseCheck();

        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Equal("heartbeat_lost", _state.Interruption);
        Assert.DoesNotContain(decision.Effects, e => e is AcquireResource or ReleaseResource);
        Assert.DoesNotContain(_state.Outbox, e => e.Type == JournalEntryTypes.LeaseExpired);
    }

    [Fact]
    public void ARelease_PutsADeviceJobBackToWaitForItsAgent_HoldingTheDevice()
    {
        GrantedAndClaimed();

        var (result, decision) = _life.Report(new WorkerReport(WorkerReportKind.Release, _state.LeaseToken!, null, null, null, "agent stopping"));

        Assert.Equal(WorkerReportOutcome.Accepted, result.Outcome);
        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Contains(Plotter1.ToString(), _state.Held);
        Assert.DoesNotContain(decision.Effects, e => e is ReleaseResource);
        Assert.Equal("layer-2", Claim().Checkpoint.Cursor);
    }

    [Fact]
    public void Ending_GivesTheDeviceBack()
    {
        GrantedAndClaimed();

        var (_, decision) = _life.Report(new WorkerReport(WorkerReportKind.Complete, _state.LeaseToken!, null, null, null, null));

        Assert.Equal(JobStatus.Completed, _state.Status);
        Assert.Contains(decision.Effects, e => e is ReleaseResource release && release.Key == Plotter1);
    }

    [Fact]
    public void AKindTargetedJob_WaitsInThePool_AndIsBoundToTheDeviceItIsGiven()
    {
        var decision = Submit(device: null, kind: "plotter");
        var pool = ResourceKey.DevicePool("plotter");
        Assert.Equal(pool, Assert.Single(decision.Effects.OfType<AcquireResource>()).Key);
        _life.ResourceAnswered(pool, new ResourceTicket(false, 0, 0, 2));
        Assert.Equal(ResourceClaim.Waits, _life.ClaimOn(ResourceKey.Device("plotter-7"))); // a grant from the pool is wanted

        _life.Granted(ResourceKey.Device("plotter-7"));

        Assert.Equal("plotter-7", _state.DeviceId);
        Assert.Contains("device:plotter-7", _state.Held);
        Assert.Contains("waiting for the agent of device 'plotter-7'", _state.QueuedReason, StringComparison.Ordinal);
        Assert.NotNull(_life.Claim("agent-7", TimeSpan.FromSeconds(10), "secret").Lease);
    }

    [Fact]
    public void AKindTargetedJob_GrantedAtOnce_TakesTheAssignedDevice()
    {
        Submit(device: null, kind: "plotter");

        _life.ResourceAnswered(ResourceKey.DevicePool("plotter"), new ResourceTicket(true, 0, 0, 0, Assigned: "plotter-3"));

        Assert.Equal("plotter-3", _state.DeviceId);
        Assert.Equal(["device:plotter-3"], _state.Held);
    }
}
