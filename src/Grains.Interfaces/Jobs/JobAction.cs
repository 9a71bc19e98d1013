namespace OrleansJobs.Jobs;

/// <summary>A control request on a job. Values are persisted in the journal: never renumber them.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobAction")]
public enum JobAction
{
    /// <summary>Graceful stop: the current item finishes, the checkpoint is saved, then Cancelled.</summary>
    Cancel = 0,

    /// <summary>Immediate stop: Killed at once; the abandoned run's later writes are refused.</summary>
    Kill = 1,

    /// <summary>Stop at the next item boundary and keep the checkpoint.</summary>
    Pause = 2,

    /// <summary>Continue a paused job from its checkpoint.</summary>
    Resume = 3,

    /// <summary>A new attempt of a terminal or paused job, from scratch or from the checkpoint.</summary>
    Restart = 4,

    /// <summary>Mark the job Failed with a reason.</summary>
    ForceFail = 5,
}

/// <summary>What a control action does to a job in a given status.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobActionKind")]
public enum JobActionKind
{
    /// <summary>The job moves to <see cref="JobActionOutcome.Target"/>.</summary>
    Transition,

    /// <summary>The job is already where the action leads (a repeated request): nothing changes, and that is not an error.</summary>
    AlreadyDone,

    /// <summary>The action makes no sense in this status: refused, nothing changes (HTTP 409).</summary>
    Conflict,
}

/// <summary>The decision for one (status, action) pair.</summary>
public readonly record struct JobActionOutcome(JobActionKind Kind, JobStatus Target)
{
    public static JobActionOutcome MoveTo(JobStatus target) => new(JobActionKind.Transition, target);

    public static JobActionOutcome Done(JobStatus current) => new(JobActionKind.AlreadyDone, current);

    public static JobActionOutcome Refuse(JobStatus current) => new(JobActionKind.Conflict, current);
}

/// <summary>Maps control actions onto <see cref="JobTransitions"/>, so a double request is a harmless no-op.</summary>
public static class JobActions
{
    public static JobActionOutcome Decide(JobStatus status, JobAction action)
    {
        var outcome = action switch
        {
            JobAction.Cancel => status switch
            {
                // Nothing runs yet (or any more): the job can be Cancelled at once.
                JobStatus.Queued or JobStatus.Paused => JobActionOutcome.MoveTo(JobStatus.Cancelled),
                JobStatus.Running or JobStatus.Pausing => JobActionOutcome.MoveTo(JobStatus.Cancelling),
                JobStatus.Cancelling or JobStatus.Cancelled => JobActionOutcome.Done(status),
                _ => JobActionOutcome.Refuse(status),
            },
            JobAction.Kill => status switch
            {
                JobStatus.Killed => JobActionOutcome.Done(status),
                _ when JobTransitions.IsTerminal(status) => JobActionOutcome.Refuse(status),
                _ => JobActionOutcome.MoveTo(JobStatus.Killed),
            },
            JobAction.Pause => status switch
            {
                JobStatus.Queued => JobActionOutcome.MoveTo(JobStatus.Paused),
                // The run finishes its item first; until then the job is Pausing.
                JobStatus.Running => JobActionOutcome.MoveTo(JobStatus.Pausing),
                JobStatus.Paused or JobStatus.Pausing => JobActionOutcome.Done(status),
                _ => JobActionOutcome.Refuse(status),
            },
            JobAction.Resume => status switch
            {
                // Through Queued: admission decides when it runs again.
                // Pausing: it runs again once the run has stopped at its item boundary.
                JobStatus.Paused or JobStatus.Pausing => JobActionOutcome.MoveTo(JobStatus.Queued),
                JobStatus.Queued or JobStatus.Running => JobActionOutcome.Done(status),
                _ => JobActionOutcome.Refuse(status),
            },
            JobAction.Restart => status switch
            {
                JobStatus.Paused => JobActionOutcome.MoveTo(JobStatus.Queued),
                _ when JobTransitions.IsTerminal(status) => JobActionOutcome.MoveTo(JobStatus.Queued),
                _ => JobActionOutcome.Refuse(status),
            },
            JobAction.ForceFail => status switch
            {
                JobStatus.Failed => JobActionOutcome.Done(status),
                _ when JobTransitions.IsTerminal(status) => JobActionOutcome.Refuse(status),
                _ => JobActionOutcome.MoveTo(JobStatus.Failed),
            },
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown job action"),
        };

        // The action table may only ever lead along legal transitions.
        if (outcome.Kind == JobActionKind.Transition && !JobTransitions.IsAllowed(status, outcome.Target))
        {
            throw new InvalidOperationException($"{action} on {status} would lead to {outcome.Target}, which the state machine forbids");
        }

        return outcome;
    }
}
