namespace OrleansJobs.Jobs;

/// <summary>
/// The states of a job. Values are persisted and sent over the wire: never renumber them.
/// Terminal states are <see cref="Cancelled"/>, <see cref="Completed"/>, <see cref="Failed"/>
/// and <see cref="Killed"/>; <see cref="JobTransitions"/> says which moves are legal.
/// </summary>
[GenerateSerializer, Alias("OrleansJobs.JobStatus")]
public enum JobStatus
{
    /// <summary>Accepted and waiting: for a slot of its type, a library, a device or its runAfter time.</summary>
    Queued = 0,

    /// <summary>Its handler is running.</summary>
    Running = 1,

    /// <summary>Stopped at a checkpoint by request; resumes from there.</summary>
    Paused = 2,

    /// <summary>Cancel requested: the current item finishes and the checkpoint is saved.</summary>
    Cancelling = 3,

    /// <summary>Stopped gracefully by request.</summary>
    Cancelled = 4,

    /// <summary>The handler finished every item.</summary>
    Completed = 5,

    /// <summary>Gave up: attempts exhausted, a fatal error, a timeout or a force-fail.</summary>
    Failed = 6,

    /// <summary>Stopped at once by request; anything its abandoned run writes later is refused.</summary>
    Killed = 7,

    /// <summary>Pause requested: the current item finishes and the checkpoint is saved, then Paused.</summary>
    Pausing = 8,
}
