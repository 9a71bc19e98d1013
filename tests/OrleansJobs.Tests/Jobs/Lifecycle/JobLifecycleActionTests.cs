using Microsoft.Extensions.Time.Testing;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Tests.Jobs.Lifecycle;

/// <summary>
/// Every control action in every status, on a job brought into that status through the lifecycle
/// itself: the lifecycle does what the action table says, journals the move, and refuses or
/// ignores without changing anything otherwise.
/// </summary>
public sealed class JobLifecycleActionTests
{
    private static readonly ResourceKey Slot = ResourceKey.RunSlot("synthetic");

    [Theory]
    [MemberData(nameof(JobTransitionsTests.AllActions), MemberType = typeof(JobTransitionsTests))]
    public void Control_DoesWhatTheActionTableSays(JobStatus status, JobAction action)
    {
        var (life, state) = InStatus(status);
        var version = state.Outbox.Count;
        var epoch = state.RunEpoch;
        var expected = JobActions.Decide(status, action);

        var (kind, decision) = life.Control(new JobControl(action, "api:test", "why", FromCheckpoint: true));

        Assert.Equal(expected.Kind, kind);
        if (kind != JobActionKind.Transition)
        {
            Assert.Equal(JobDecision.None, decision);
            Assert.Equal(status, state.Status);
            Assert.Equal(version, state.Outbox.Count);
            return;
        }

        Assert.True(decision.Save);
        Assert.Equal(expected.Target, state.Status);
        var move = state.Outbox.Last(e => e.Type == JournalEntryTypes.StateChange);
        Assert.Equal((status, expected.Target), (move.From!.Value, move.To!.Value));
        // A kill or force-fail fences the run out; nothing else supersedes it here.
        Assert.Equal(action is JobAction.Kill or JobAction.ForceFail, state.RunEpoch > epoch);
        // A job that stops holding or waiting gives its slot back, in the same decision.
        var releases = JobTransitions.IsTerminal(expected.Target) && !life.HasLiveRun || expected.Target == JobStatus.Paused;
        Assert.Equal(releases, decision.Effects.Contains(new ReleaseResource(Slot)));
    }

    private static (JobLifecycle Life, JobState State) InStatus(JobStatus status)
    {
        var options = new JobTypeOptions { MaxAttempts = 1 };
        var state = new JobState();
        var life = new JobLifecycle(state, "job-1", "silo", type => type == "synthetic" ? options : null, new FakeTimeProvider());
        life.Submit(new JobSubmission("synthetic", "{}", 0, null, null, null, null, "api:test"), options, "{}", "fp");
        life.ResourceAnswered(Slot, new ResourceTicket(false, 50, 50, 1));
        if (status == JobStatus.Queued)
        {
            return (life, state);
        }

        if (status == JobStatus.Cancelled)
        {
            life.Control(new JobControl(JobAction.Cancel, "api:test", null, true));
            return (life, state);
        }

        life.Granted(Slot);
        var epoch = state.RunEpoch;
        var action = status switch
        {
            JobStatus.Pausing or JobStatus.Paused => JobAction.Pause,
            JobStatus.Cancelling => JobAction.Cancel,
            JobStatus.Killed => JobAction.Kill,
            _ => (JobAction?)null,
        };
        if (action is { } first)
        {
            life.Control(new JobControl(first, "api:test", null, true));
        }

        if (status is JobStatus.Paused or JobStatus.Completed or JobStatus.Failed)
        {
            life.RunEnded(epoch, JobCheckpoint.Start, JobProgress.None, [], status == JobStatus.Failed ? "boom" : null);
        }

        Assert.Equal(status, state.Status);
        return (life, state);
    }
}
