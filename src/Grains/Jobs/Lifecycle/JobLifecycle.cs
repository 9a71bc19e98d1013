using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>
/// Every decision about one job, over its <see cref="JobState"/> and a <see cref="TimeProvider"/>:
/// submit, control actions, resources granted or queued, start, run ended or lost, recovery,
/// hand-over, retry, worker leases. It changes the state (journal entries included, in the
/// state's outbox) and returns the effects the job grain must carry out; it does no I/O. One
/// instance lives in each activation: besides the state it knows what only that activation
/// knows (whether a run it started still lives, the worker lease's in-memory end).
/// </summary>
public sealed partial class JobLifecycle(JobState state, string jobId, string silo, Func<string, JobTypeOptions?> types, TimeProvider time)
{
    private long? _liveRun; // epoch of the in-silo run this activation started, until it ends or is fenced out
    private ResourceKey? _acquiring; // asked for and not answered yet
    private bool _acquiringToResume; // the acquisition continues a lost run (recovery) instead of starting one
    private string _startActor = JournalActors.System;
    private bool _recovered;

    public JobState State => state;

    public string JobId => jobId;

    /// <summary>A run this activation started is still alive (running or finishing its item).</summary>
    public bool HasLiveRun => _liveRun is not null;

    /// <summary>The job type's options on this silo; null when the type is not registered here.</summary>
    public JobTypeOptions? TypeOptions => State.Exists ? types(State.Type) : null;

    /// <summary>True once, after this activation resumed the job from another silo's or activation's state.</summary>
    public bool TakeRecovered()
    {
        var recovered = _recovered;
        _recovered = false;
        return recovered;
    }

    /// <summary>Creates the job from a validated submission and starts acquiring what it needs (or waits for its runAfter).</summary>
    public JobDecision Submit(JobSubmission submission, JobTypeOptions options, string parametersJson, string fingerprint)
    {
        var now = time.GetUtcNow();
        State.Exists = true;
        State.Type = submission.Type;
        State.ParametersJson = parametersJson;
        State.RequestFingerprint = fingerprint;
        State.Priority = submission.Priority;
        State.MaxAttempts = submission.MaxAttempts ?? options.MaxAttempts;
        State.CheckpointEveryItems = submission.CheckpointEveryItems ?? options.CheckpointEveryItems;
        State.CheckpointInterval = submission.CheckpointInterval ?? options.CheckpointInterval;
        State.IdempotencyKey = submission.IdempotencyKey;
        State.LibraryId = submission.Library;
        State.LockWaitSeconds = submission.LockWaitSeconds;
        State.DeviceId = submission.Device;
        State.DeviceKind = submission.DeviceKind;
        State.Status = JobStatus.Queued;
        State.CreatedAt = now;
        State.StartAsNewAttempt = true;
        Journal(JournalEntryTypes.Submitted, null, JobStatus.Queued, null, submission.Actor);

        if (submission.RunAfter is { } runAfter && runAfter > now)
        {
            // Scheduled: it asks for its resources when its time comes.
            State.RetryAt = runAfter;
            State.QueuedReason = $"scheduled to run after {runAfter:O}";
            return JobDecision.Saved(new ScheduleWake(runAfter));
        }

        var effects = new List<JobEffect>();
        AcquireNext(effects, submission.Actor);
        return JobDecision.Saved(effects);
    }

    /// <summary>The answer to an <see cref="AcquireResource"/> effect.</summary>
    public JobDecision ResourceAnswered(ResourceKey key, ResourceTicket ticket)
    {
        if (ticket.Granted)
        {
            return key.Kind == ResourceKey.DevicePoolKind && ticket.Assigned is { } device ? Granted(ResourceKey.Device(device)) : Granted(key);
        }

        if (_acquiring != key)
        {
            return JobDecision.None;
        }

        if (ticket.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        _acquiring = null;
        if (_acquiringToResume)
        {
            // Its resources were given away meanwhile: wait for them, then continue this attempt.
            _acquiringToResume = false;
            Move(JobStatus.Queued, "recovered; waiting for a slot", JournalActors.System);
            State.StartAsNewAttempt = false;
        }

        State.QueuedReason = WaitingReason(key, ticket);
        return key.Kind == ResourceKey.LibraryKind ? StartLockWait() : JobDecision.Saved();
    }

    /// <summary>
    /// An <see cref="AcquireResource"/> got no answer (the resource's silo just died, a timeout): the job
    /// waits as if queued. The resource reads waiting jobs from the job index and grants it in turn.
    /// </summary>
    public JobDecision ResourceUnanswered(ResourceKey key, string error)
    {
        if (_acquiring != key)
        {
            return JobDecision.None;
        }

        var decision = ResourceAnswered(key, new ResourceTicket(false, 0, 0, 0));
        _acquiring = key; // a grant may still come for this request
        State.QueuedReason = $"waiting for {key}: it did not answer ({error}); it finds this job in the job index";
        return decision;
    }

    /// <summary>A resource granted the job (the answer to its request, or later, from the resource's queue).</summary>
    public JobDecision Granted(ResourceKey key)
    {
        if (State.Held.Contains(key.ToString()))
        {
            // Already held. A waiting job that holds all it needs (its activation was lost between
            // a grant and its start) starts now; otherwise nothing changes.
            return IsReadyToStart() ? Continue() : JobDecision.None;
        }

        if (IsAssignment(key))
        {
            // Its pool found it a device: the job is bound to that one from now on.
            State.DeviceId = key.Id;
        }
        else if (_acquiring != key && !IsWaitingFor(key))
        {
            // Not wanted (any more): the resource must not keep it for this job.
            return JobDecision.Unsaved(new ReleaseResource(key));
        }

        _acquiring = null;
        State.Held.Add(key.ToString());
        if (key.Kind == ResourceKey.LibraryKind)
        {
            State.LockWaitUntil = null;
        }

        var effects = new List<JobEffect>();
        AcquireNext(effects, _startActor);
        return JobDecision.Saved(effects);
    }

    /// <summary>What a resource is told when it asks whether this job still holds or awaits it.</summary>
    public ResourceClaim ClaimOn(ResourceKey key) =>
        State.Held.Contains(key.ToString()) ? ResourceClaim.Holds
        : _acquiring == key || IsWaitingFor(key) || IsAssignment(key) ? ResourceClaim.Waits
        : ResourceClaim.None;

    /// <summary>A wake-up scheduled by <see cref="ScheduleWake"/> is due: a retry, or the first start of a scheduled job.</summary>
    public JobDecision WakeDue()
    {
        if (State.Status != JobStatus.Queued || State.RetryAt is not { } at || HasLiveRun)
        {
            return JobDecision.None;
        }

        if (at > time.GetUtcNow())
        {
            // Timers follow a monotonic clock; never start before the wall-clock time asked for.
            return JobDecision.Unsaved(new ScheduleWake(at));
        }

        State.RetryAt = null;
        State.StartAsNewAttempt = true;
        var effects = new List<JobEffect>();
        AcquireNext(effects, JournalActors.System);
        return JobDecision.Saved(effects);
    }

    /// <summary>A new activation found this state: continue whatever the previous activation left.</summary>
    public JobDecision Activated()
    {
        if (!State.Exists)
        {
            return JobDecision.None;
        }

        if (IsRunning(State.Status) && State.LeaseToken is not null)
        {
            return ResumeLease();
        }

        if (IsRunning(State.Status))
        {
            return Recover();
        }

        if (State.Status != JobStatus.Queued)
        {
            return JobDecision.None;
        }

        // A waiting job needs no call: its resource still has it in its queue, or reads it back from the job
        // index. One that already holds what it has (the previous activation was lost mid-way) goes on acquiring.
        var moved = State.ActiveSilo != silo;
        _recovered = moved;
        if (State.RetryAt is null && State.Held.Count > 0)
        {
            // Ask again: a holder is granted again, and a resource that lost this job queues it.
            State.Held.Clear();
            return Continue();
        }

        var effects = new List<JobEffect>();
        if (State.RetryAt is { } retryAt)
        {
            effects.Add(new ScheduleWake(retryAt));
        }

        if (State.LockWaitUntil is { } lockWaitUntil)
        {
            effects.Add(new WatchLockWait(lockWaitUntil));
        }

        // A state that still names the old silo as answerable for this job is pointed here.
        return new JobDecision(moved, effects);
    }

    private void AcquireNext(List<JobEffect> effects, string actor)
    {
        _startActor = actor;
        var next = Needs().FirstOrDefault(k => !State.Held.Contains(k.ToString()));
        if (next != default)
        {
            _acquiring = next;
            effects.Add(new AcquireResource(next));
            return;
        }

        if (_acquiringToResume)
        {
            _acquiringToResume = false;
            Supersede();
            State.OwnerSilo = silo;
            Launch(effects);
            return;
        }

        if (TypeOptions is null)
        {
            FailUnregistered(effects);
            return;
        }

        if (WaitsForAgent())
        {
            return; // its agent's claim starts it
        }

        BeginRun(State.StartAsNewAttempt, "started", actor);
        Launch(effects);
    }

    /// <summary>The resources this job needs, in acquisition order.</summary>
    private IEnumerable<ResourceKey> Needs()
    {
        if (State.DeviceId is { } device)
        {
            // The device is the limit: one job at a time, claimed by its agent only (never handed out by the type's slots).
            yield return ResourceKey.Device(device);
            yield break;
        }

        if (State.DeviceKind is { } kind)
        {
            yield return ResourceKey.DevicePool(kind); // granted as one device of the kind
            yield break;
        }

        yield return ResourceKey.RunSlot(State.Type);
        if (State.LibraryId is { } library)
        {
            yield return ResourceKey.Library(library);
        }
    }

    private bool IsReadyToStart() =>
        State.Status == JobStatus.Queued && State.RetryAt is null && !HasLiveRun && _acquiring is null
        && Needs().All(k => State.Held.Contains(k.ToString()));

    private JobDecision Continue()
    {
        var effects = new List<JobEffect>();
        AcquireNext(effects, JournalActors.System);
        return JobDecision.Saved(effects);
    }

    /// <summary>A device granted to a job that waits in the pool of its kind (the pool assigned it).</summary>
    private bool IsAssignment(ResourceKey key) =>
        key.Kind == ResourceKey.DeviceKind && State.DeviceId is null && State.DeviceKind is { } kind
        && (_acquiring == ResourceKey.DevicePool(kind) || IsWaitingFor(ResourceKey.DevicePool(kind)));

    private bool IsWaitingFor(ResourceKey key) =>
        State.Status == JobStatus.Queued && State.RetryAt is null && !HasLiveRun
        && Needs().FirstOrDefault(k => !State.Held.Contains(k.ToString())) == key;

    /// <summary>Gives back what the job holds or awaits, unless it still runs, drains or waits.</summary>
    private void ReleaseIfIdle(List<JobEffect> effects)
    {
        var holdsOrWaits = IsRunning(State.Status) || HasLiveRun || (State.Status == JobStatus.Queued && State.RetryAt is null);
        if (holdsOrWaits)
        {
            return;
        }

        if (State.Status == JobStatus.Paused && State.DeviceId is not null && State.Held.Count > 0)
        {
            return; // a paused device job keeps its device: the paper, the pen, the half-done work are its own
        }

        _acquiring = null;
        State.Held.Clear();
        State.LockWaitUntil = null;
        foreach (var key in Needs())
        {
            effects.Add(new ReleaseResource(key));
        }
    }

    private string WaitingReason(ResourceKey key, ResourceTicket ticket) =>
        key.Kind == ResourceKey.LibraryKind ? LibraryWaitingReason(key, ticket)
        : key.Kind == ResourceKey.DeviceKind ? DeviceWaitingReason(key, ticket)
        : key.Kind == ResourceKey.DevicePoolKind ? $"waiting for a free '{key.Id}': position {ticket.Position} among the jobs waiting for one"
        : TypeOptions?.External == true
        ? $"waiting for a worker: {ticket.Held} of {ticket.Limit} '{key.Id}' jobs leased, position {ticket.Position} in the queue"
        : $"waiting for a slot: {ticket.Held} of {ticket.Limit} '{key.Id}' jobs running, position {ticket.Position} in the queue";

    private void FailUnregistered(List<JobEffect> effects)
    {
        State.Error = $"job type '{State.Type}' is not registered on silo {silo}";
        Finish(JobStatus.Failed, "failed", State.Error, JournalActors.System);
        ReleaseIfIdle(effects);
    }

    /// <summary>Running, or finishing its item on the way to Cancelled or Paused: a run (in the silo or a worker's) is under way.</summary>
    public static bool IsRunning(JobStatus status) => status is JobStatus.Running or JobStatus.Cancelling or JobStatus.Pausing;
}
