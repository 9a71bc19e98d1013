using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>
/// Something the job grain must do because the <see cref="JobLifecycle"/> decided it. The
/// lifecycle has already changed the state (journal entries included); the grain asks for
/// resources at once (their answers go back to the lifecycle), stores the state once, then
/// carries out the rest.
/// </summary>
public abstract record JobEffect;

/// <summary>Start the handler in this silo as run <paramref name="Epoch"/> from the stored checkpoint.</summary>
public sealed record StartRun(long Epoch) : JobEffect;

/// <summary>Ask the live in-silo run to stop: gracefully at its next item boundary, or at once (<paramref name="Hard"/>; it is fenced out already).</summary>
public sealed record StopRun(bool Hard) : JobEffect;

/// <summary>Ask for a resource; its answer goes back through <see cref="JobLifecycle.ResourceAnswered"/>.</summary>
public sealed record AcquireResource(ResourceKey Key) : JobEffect;

/// <summary>Give a resource back, or leave its queue.</summary>
public sealed record ReleaseResource(ResourceKey Key) : JobEffect;

/// <summary>Wake the job at <paramref name="At"/> (a retry after backoff, a scheduled start): <see cref="JobLifecycle.WakeDue"/>.</summary>
public sealed record ScheduleWake(DateTimeOffset At) : JobEffect;

/// <summary>Forget any pending wake-up.</summary>
public sealed record CancelWake : JobEffect;

/// <summary>Watch the worker's lease: <see cref="JobLifecycle.LeaseCheck"/> is due at <paramref name="At"/>.</summary>
public sealed record WatchLease(DateTimeOffset At) : JobEffect;

/// <summary>No worker holds the job any more: stop watching its lease.</summary>
public sealed record ForgetLease : JobEffect;

/// <summary>The job waits for its library's lock until <paramref name="At"/> at most: <see cref="JobLifecycle.LockWaitDue"/>.</summary>
public sealed record WatchLockWait(DateTimeOffset At) : JobEffect;
