using Microsoft.Extensions.Time.Testing;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Tests.Jobs.Lifecycle;

/// <summary>
/// The job lifecycle on fake time, without Orleans or a database: every decision of submit,
/// control, run end, watchdog, recovery and retry, asserted on the state, the journal and the
/// effects the grain must carry out.
/// </summary>
public sealed class JobLifecycleTests
{
    private const string Silo = "127.0.0.1:11111@1";
    private static readonly ResourceKey Slot = ResourceKey.RunSlot("synthetic");
    private static readonly ResourceTicket Granted = new(true, 1, 50, 0);
    private static readonly ResourceTicket Queued = new(false, 50, 50, 3);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
    private readonly JobTypeOptions _options = new() { MaxRecoveries = 1, StallTimeout = TimeSpan.FromSeconds(30), MaxRunTime = TimeSpan.FromMinutes(10) };
    private readonly JobState _state = new();
    private readonly JobLifecycle _life;

    public JobLifecycleTests() => _life = New(_state);

    private JobLifecycle New(JobState state) => new(state, "job-1", Silo, type => type == "synthetic" ? _options : null, _time);

    private static JobSubmission Submission(DateTimeOffset? runAfter = null, int? maxAttempts = null) =>
        new("synthetic", "{}", 0, maxAttempts, null, null, null, "api:test", runAfter);

    private static JobControl Control(JobAction action, bool fromCheckpoint = true) => new(action, "api:test", null, fromCheckpoint);

    private List<string> Journal() => [.. _state.Outbox.Select(e => e.Type == JournalEntryTypes.StateChange ? $"{e.From}->{e.To}" : e.Type)];

    /// <summary>Submits and grants the slot at once: the job runs as epoch 1.</summary>
    private long Start(int? maxAttempts = null)
    {
        var submitted = _life.Submit(Submission(maxAttempts: maxAttempts), _options, "{}", "fp");
        Assert.Equal([new AcquireResource(Slot)], submitted.Effects);
        var started = _life.ResourceAnswered(Slot, Granted);
        var run = Assert.IsType<StartRun>(Assert.Single(started.Effects));
        return run.Epoch;
    }

    [Fact]
    public void Submit_Granted_RunsInTheSameWrite_AndHoldsTheSlot()
    {
        var epoch = Start();

        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.Equal(1, _state.Attempt);
        Assert.Equal(1, epoch);
        Assert.Equal(["slot:synthetic"], _state.Held);
        Assert.Equal(["submitted", "Queued->Running"], Journal());
        Assert.True(_life.HasLiveRun);
        Assert.Equal(ResourceClaim.Holds, _life.ClaimOn(Slot));
    }

    [Fact]
    public void Submit_WhenTheSlotsAreTaken_WaitsWithItsPosition_ThenStartsWhenGranted()
    {
        _life.Submit(Submission(), _options, "{}", "fp");
        var waiting = _life.ResourceAnswered(Slot, Queued);

        Assert.True(waiting.Save);
        Assert.Empty(waiting.Effects);
        Assert.Equal("waiting for a slot: 50 of 50 'synthetic' jobs running, position 3 in the queue", _state.QueuedReason);
        Assert.Equal(ResourceClaim.Waits, _life.ClaimOn(Slot));

        var granted = _life.Granted(Slot);
        Assert.IsType<StartRun>(Assert.Single(granted.Effects));
        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.Null(_state.QueuedReason);
        Assert.Equal(JobDecision.None, _life.Granted(Slot)); // a repeated grant changes nothing
    }

    [Fact]
    public void Submit_WithRunAfter_WaitsForItsTime_AndNeverStartsEarly()
    {
        var at = _time.GetUtcNow().AddMinutes(5);
        var submitted = _life.Submit(Submission(runAfter: at), _options, "{}", "fp");

        Assert.Equal([new ScheduleWake(at)], submitted.Effects);
        Assert.Equal(ResourceClaim.None, _life.ClaimOn(Slot));
        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(JobDecision.Unsaved(new ScheduleWake(at)).Effects, _life.WakeDue().Effects);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([new AcquireResource(Slot)], _life.WakeDue().Effects);
    }

    [Fact]
    public void Granted_ToAJobThatNoLongerWaits_IsGivenBack()
    {
        _life.Submit(Submission(), _options, "{}", "fp");
        _life.ResourceAnswered(Slot, Queued);
        _life.Control(Control(JobAction.Cancel));

        var late = _life.Granted(Slot);

        Assert.False(late.Save);
        Assert.Equal([new ReleaseResource(Slot)], late.Effects);
        Assert.Equal(ResourceClaim.None, _life.ClaimOn(Slot));
    }

    [Fact]
    public void Cancel_WhileRunning_StopsGracefully_ThenEndsCancelledAndReleases()
    {
        var epoch = Start();

        var (kind, cancel) = _life.Control(Control(JobAction.Cancel));

        Assert.Equal(JobActionKind.Transition, kind);
        Assert.Equal([new StopRun(Hard: false)], cancel.Effects);
        Assert.Equal(JobStatus.Cancelling, _state.Status);
        Assert.Equal(ResourceClaim.Holds, _life.ClaimOn(Slot)); // the draining run keeps its slot
        var ended = _life.RunEnded(epoch, new JobCheckpoint("7", 7, new Dictionary<string, long>()), JobProgress.None, [], null);
        Assert.Equal(JobStatus.Cancelled, _state.Status);
        Assert.Equal([new ReleaseResource(Slot)], ended.Effects);
        Assert.Equal("7", _state.Checkpoint.Cursor);
        Assert.Empty(_state.Held);
    }

    [Fact]
    public void Pause_WhileRunning_IsPausingUntilTheRunEnds_ThenPausedWithItsCheckpoint()
    {
        var epoch = Start();

        _life.Control(Control(JobAction.Pause));
        Assert.Equal(JobStatus.Pausing, _state.Status);
        Assert.Equal(JobActionKind.AlreadyDone, _life.Control(Control(JobAction.Pause)).Kind);
        // The run's checkpoints still count while it finishes its item.
        Assert.True(_life.Checkpoint(epoch, new JobCheckpoint("4", 4, new Dictionary<string, long>()), JobProgress.None, []));
        var ended = _life.RunEnded(epoch, new JobCheckpoint("5", 5, new Dictionary<string, long>()), JobProgress.None, [], null);

        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Equal("5", _state.Checkpoint.Cursor);
        Assert.Equal([new ReleaseResource(Slot)], ended.Effects);
        Assert.Equal(["submitted", "Queued->Running", "Running->Pausing", "Pausing->Paused", "checkpoint_saved"], Journal());
    }

    [Fact]
    public void RunEnded_ReportedTwice_IsTakenOnce()
    {
        var epoch = Start();
        _life.Control(Control(JobAction.Pause));
        _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], null);
        var entries = _state.Outbox.Count;

        var again = _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], null);

        Assert.Equal(JobDecision.None, again);
        Assert.Equal(entries, _state.Outbox.Count);
    }

    [Fact]
    public void Resume_WhilePausing_StartsTheSameAttemptOnlyAfterTheRunStopped()
    {
        var epoch = Start();
        _life.Control(Control(JobAction.Pause));

        var (kind, resume) = _life.Control(Control(JobAction.Resume));

        Assert.Equal(JobActionKind.Transition, kind);
        Assert.Empty(resume.Effects); // nothing starts while the old run still runs
        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Equal("waiting for the previous run to stop", _state.QueuedReason);
        var ended = _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], null);
        var next = Assert.IsType<StartRun>(Assert.Single(ended.Effects)); // it holds the slot still
        Assert.Equal(epoch + 1, next.Epoch);
        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.Equal(1, _state.Attempt);
    }

    [Fact]
    public void Kill_FencesTheRunOutAtOnce_SoItsLateReportsAreRefused()
    {
        var epoch = Start();

        var (_, kill) = _life.Control(Control(JobAction.Kill));

        Assert.Equal(JobStatus.Killed, _state.Status);
        Assert.Contains(new StopRun(Hard: true), kill.Effects);
        Assert.Contains(new ReleaseResource(Slot), kill.Effects);
        Assert.False(_life.Checkpoint(epoch, JobCheckpoint.Start, JobProgress.None, []));
        Assert.Equal(JobDecision.None, _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], null));
        Assert.Equal(JobActionKind.AlreadyDone, _life.Control(Control(JobAction.Kill)).Kind);
        Assert.Equal(JobActionKind.Conflict, _life.Control(Control(JobAction.Pause)).Kind);
    }

    [Fact]
    public void Restart_FromScratch_IsANewAttemptWithAnEmptyCheckpoint()
    {
        var epoch = Start(maxAttempts: 1);
        _life.RunEnded(epoch, new JobCheckpoint("9", 9, new Dictionary<string, long>()), JobProgress.None, [], "boom");
        Assert.Equal(JobStatus.Failed, _state.Status);

        var (_, restart) = _life.Control(Control(JobAction.Restart, fromCheckpoint: false));
        Assert.Equal([new AcquireResource(Slot)], restart.Effects);
        _life.ResourceAnswered(Slot, Granted);

        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.Equal(2, _state.Attempt);
        Assert.Null(_state.Checkpoint.Cursor);
        Assert.Null(_state.Error);
        Assert.Equal(2, _state.MaxAttempts);
    }

    [Fact]
    public void AFailedRun_IsRetriedAfterBackoff_ThenFailsWhenItsAttemptsAreSpent()
    {
        var epoch = Start(maxAttempts: 2);

        var failed = _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], "IOException: disk");

        Assert.Equal(JobStatus.Queued, _state.Status);
        var wake = Assert.IsType<ScheduleWake>(Assert.Single(failed.Effects, e => e is ScheduleWake));
        Assert.Equal(_time.GetUtcNow().AddSeconds(1), wake.At);
        Assert.Contains(new ReleaseResource(Slot), failed.Effects); // nobody holds a slot through a backoff
        _time.Advance(TimeSpan.FromSeconds(1));
        _life.WakeDue();
        var retry = Assert.IsType<StartRun>(Assert.Single(_life.ResourceAnswered(Slot, Granted).Effects));
        Assert.Equal(2, _state.Attempt);
        _life.RunEnded(retry.Epoch, JobCheckpoint.Start, JobProgress.None, [], "IOException: disk");
        Assert.Equal(JobStatus.Failed, _state.Status);
        Assert.All(_state.Attempts, a => Assert.Equal("failed", a.Outcome));
    }

    [Fact]
    public void Watchdog_StalledRun_IsRestartedFromTheCheckpoint_ThenPausedForInvestigation()
    {
        Start();
        var startedAt = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(JobDecision.None, _life.WatchdogTick(startedAt, startedAt));

        _time.Advance(TimeSpan.FromSeconds(1));
        var restart = _life.WatchdogTick(startedAt, startedAt);
        Assert.Contains(new StopRun(Hard: true), restart.Effects);
        Assert.Contains(restart.Effects, e => e is StartRun);
        Assert.Equal(1, _state.Recoveries);

        _time.Advance(TimeSpan.FromSeconds(30));
        var giveUp = _life.WatchdogTick(startedAt, startedAt);
        Assert.Equal(JobStatus.Paused, _state.Status);
        Assert.Contains(new ReleaseResource(Slot), giveUp.Effects);
        Assert.Equal(2, Journal().Count(e => e == JournalEntryTypes.StallDetected));
        Assert.Contains(JournalEntryTypes.PausedForInvestigation, Journal());
    }

    [Fact]
    public void Watchdog_OverdueRun_OfATypeThatFails_FailsOnceItsRestartsAreSpent()
    {
        _options.WhenRecoveriesExhausted = RecoveriesExhaustedAction.Fail;
        _options.MaxRecoveries = 0;
        Start();
        var startedAt = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMinutes(10));

        _life.WatchdogTick(_time.GetUtcNow(), startedAt); // progressing, but too long

        Assert.Equal(JobStatus.Failed, _state.Status);
        Assert.StartsWith("overdue: running for 600 s", _state.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Watchdog_ARunningJobWithNoRunHere_IsRecovered()
    {
        var epoch = Start();
        _life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], null); // completed: nothing to recover
        Assert.Equal(JobDecision.None, _life.WatchdogTick(_time.GetUtcNow(), _time.GetUtcNow()));

        var state = new JobState { Exists = true, Type = "synthetic", Status = JobStatus.Running, RunEpoch = 4, OwnerSilo = "dead", Held = ["slot:synthetic"] };
        var lost = New(state);
        var decision = lost.WatchdogTick(_time.GetUtcNow(), _time.GetUtcNow());

        Assert.Equal([new AcquireResource(Slot)], decision.Effects);
        Assert.Equal(5, Assert.IsType<StartRun>(Assert.Single(lost.ResourceAnswered(Slot, Granted).Effects)).Epoch);
        Assert.Equal(Silo, state.OwnerSilo);
        Assert.Equal(1, state.Recoveries);
    }

    [Fact]
    public void Activated_AfterASiloDied_ResumesFromTheCheckpoint_OrWaitsWhenTheSlotsAreTaken()
    {
        var state = new JobState { Exists = true, Type = "synthetic", Status = JobStatus.Running, RunEpoch = 2, OwnerSilo = "dead", ActiveSilo = "dead" };
        var life = New(state);

        Assert.Equal([new AcquireResource(Slot)], life.Activated().Effects);
        var waiting = life.ResourceAnswered(Slot, Queued);

        Assert.True(waiting.Save);
        Assert.Equal(JobStatus.Queued, state.Status);
        Assert.False(state.StartAsNewAttempt); // the same attempt continues
        Assert.True(life.TakeRecovered());
        Assert.False(life.TakeRecovered());
        Assert.Contains(state.Outbox, e => e.Type == JournalEntryTypes.Recovery && e.Reason!.Contains("dead", StringComparison.Ordinal));
    }

    [Fact]
    public void Activated_WhilePausingOnASiloThatDied_CompletesThePause()
    {
        var state = new JobState { Exists = true, Type = "synthetic", Status = JobStatus.Pausing, OwnerSilo = "dead", Held = ["slot:synthetic"] };

        var decision = New(state).Activated();

        Assert.Equal(JobStatus.Paused, state.Status);
        Assert.Equal([new ReleaseResource(Slot)], decision.Effects);
    }

    [Fact]
    public void HandOver_KeepsTheJobRunning_AndTheNextActivationContinuesWithoutCountingARecovery()
    {
        Start();

        _life.HandOver("silo shutting down", stopped: true, TimeSpan.FromSeconds(10), new JobCheckpoint("3", 3, new Dictionary<string, long>()), JobProgress.None, []);

        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.Equal(Silo, _state.HandedOverBy);
        var next = New(_state);
        next.Activated();
        Assert.Equal(0, _state.Recoveries);
        Assert.Null(_state.HandedOverBy);
    }

    [Fact]
    public void Activated_AWaitingJobThatHoldsItsSlot_StartsInsteadOfWaitingForever()
    {
        // Resumed while pausing, and its activation was lost before the old run's end: Queued, holding the slot.
        var state = new JobState { Exists = true, Type = "synthetic", Status = JobStatus.Queued, ActiveSilo = Silo, Held = ["slot:synthetic"] };
        var life = New(state);

        // It asks again (a resource that lost it queues it) and starts when granted.
        Assert.Equal([new AcquireResource(Slot)], life.Activated().Effects);
        Assert.IsType<StartRun>(Assert.Single(life.ResourceAnswered(Slot, Granted).Effects));
        Assert.Equal(JobStatus.Running, state.Status);
        Assert.Equal(ResourceClaim.Holds, life.ClaimOn(Slot));
        Assert.Equal(JobDecision.None, life.Granted(Slot)); // a repeated grant changes nothing now
    }

    [Fact]
    public void Granted_AgainToAWaitingJobThatHoldsItsSlot_StartsIt()
    {
        var state = new JobState { Exists = true, Type = "synthetic", Status = JobStatus.Queued, RetryAt = _time.GetUtcNow().AddMinutes(1), Held = ["slot:synthetic"] };
        var life = New(state);
        Assert.Equal(JobDecision.None, life.Granted(Slot)); // scheduled: not yet

        state.RetryAt = null;
        Assert.IsType<StartRun>(Assert.Single(life.Granted(Slot).Effects));
    }

    [Fact]
    public void ASlotThatDoesNotAnswer_LeavesTheJobWaiting_AndALaterGrantStartsIt()
    {
        _life.Submit(Submission(), _options, "{}", "fp");

        var unanswered = _life.ResourceUnanswered(Slot, "SiloUnavailableException");

        Assert.True(unanswered.Save); // the job exists, Queued: the slots find it in the job index
        Assert.Equal(JobStatus.Queued, _state.Status);
        Assert.Contains("did not answer", _state.QueuedReason, StringComparison.Ordinal);
        Assert.Equal(ResourceClaim.Waits, _life.ClaimOn(Slot));
        Assert.IsType<StartRun>(Assert.Single(_life.Granted(Slot).Effects));
    }

    [Fact]
    public void ResumedWhilePausing_ARunThatNeverStops_IsHardStoppedByTheWatchdog_AndTheJobRunsAgain()
    {
        var epoch = Start();
        var startedAt = _time.GetUtcNow();
        _life.Control(Control(JobAction.Pause));
        _life.Control(Control(JobAction.Resume));
        Assert.Equal(JobDecision.None, _life.WatchdogTick(startedAt, startedAt));

        _time.Advance(TimeSpan.FromSeconds(30));
        var decision = _life.WatchdogTick(startedAt, startedAt);

        Assert.Contains(new StopRun(Hard: true), decision.Effects);
        var next = Assert.IsType<StartRun>(Assert.Single(decision.Effects, e => e is StartRun));
        Assert.True(next.Epoch > epoch + 1);
        Assert.Equal(JobStatus.Running, _state.Status);
        Assert.False(_life.Checkpoint(epoch, JobCheckpoint.Start, JobProgress.None, [])); // the stuck run is fenced out
    }

    [Fact]
    public void CancelWhileThePreviousRunDrains_HardStopsIt_AndGivesTheSlotBack()
    {
        Start();
        _life.Control(Control(JobAction.Pause));
        _life.Control(Control(JobAction.Resume));

        var (_, cancel) = _life.Control(Control(JobAction.Cancel));

        Assert.Equal(JobStatus.Cancelled, _state.Status);
        Assert.Contains(new StopRun(Hard: true), cancel.Effects);
        Assert.Contains(new ReleaseResource(Slot), cancel.Effects);
        Assert.False(_life.HasLiveRun);
    }

    [Fact]
    public void Watchdog_StalledRun_OfATypeThatFails_FailsAfterItsRestart_WithTheStallAsItsError()
    {
        _options.WhenRecoveriesExhausted = RecoveriesExhaustedAction.Fail;
        Start();
        var startedAt = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(30));
        _life.WatchdogTick(startedAt, startedAt);
        Assert.Equal(JobStatus.Running, _state.Status); // restarted once (MaxRecoveries 1)

        _time.Advance(TimeSpan.FromSeconds(30));
        var failed = _life.WatchdogTick(startedAt, startedAt);

        Assert.Equal(JobStatus.Failed, _state.Status);
        Assert.StartsWith("stall_detected: no progress for 60 s", _state.Error, StringComparison.Ordinal);
        Assert.Contains(new ReleaseResource(Slot), failed.Effects);
        Assert.Equal("watchdog", _state.Outbox.Last(e => e.Type == JournalEntryTypes.StateChange).Actor);
        Assert.Single(_state.Outbox, e => e.Type == JournalEntryTypes.Recovery);
    }
}
