using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Events;

/// <summary>
/// A job's live progress and message events, throttled. Progress is published at most once per
/// <see cref="JobEventPublisherOptions.ProgressInterval"/>, with the newest value, at the end of the interval in
/// which it changed (the publisher flushes every interval), and only while the job still runs: a run that ends
/// within its first interval says all through its transitions. Messages: at most
/// <see cref="JobEventPublisherOptions.MaxMessagesPerSecond"/>. Called from the handler's thread and from the grain,
/// so thread-safe (grain state may only be read on the grain's turn: the grain hands the job's tags over with
/// <see cref="Update"/>); costs one field read while no host listens.
/// </summary>
internal sealed class LiveJobEvents(JobEventPublisher publisher, string jobId, TimeProvider time)
{
    private volatile Tags? _tags;
    private readonly Lock _lock = new();
    private object? _pendingProgress; // the tracker or the reported progress not yet published
    private long _messageWindow;
    private int _messagesInWindow;

    /// <summary>The tracker's progress changed (the run's thread).</summary>
    public void ProgressChanged(JobProgressTracker tracker) => Progress(tracker);

    /// <summary>A worker reported progress.</summary>
    public void ProgressReported(JobProgress progress) => Progress(progress);

    /// <summary>A handler or worker left a message.</summary>
    public void MessageAdded(JobMessage message)
    {
        if (!publisher.HasListeners)
        {
            return;
        }

        var second = time.GetTimestamp() / time.TimestampFrequency;
        lock (_lock)
        {
            if (second != _messageWindow)
            {
                _messageWindow = second;
                _messagesInWindow = 0;
            }

            if (++_messagesInWindow > publisher.Options.MaxMessagesPerSecond)
            {
                return;
            }
        }

        publisher.Publish(Event(JobEvent.MessageKind) with { Message = message });
    }

    /// <summary>The publisher's flush at the end of an interval: the newest progress, if the job still runs.</summary>
    public void FlushProgress()
    {
        object? pending;
        lock (_lock)
        {
            pending = _pendingProgress;
            _pendingProgress = null;
        }

        if (pending is not null && _tags?.Status is nameof(JobStatus.Running) or nameof(JobStatus.Pausing) or nameof(JobStatus.Cancelling))
        {
            publisher.Publish(ProgressEvent(pending));
        }
    }

    /// <summary>The job as last stored (the grain's turn): what its live events say of it, read from the run's thread.</summary>
    public void Update(StoredJob job)
    {
        var status = job.Status.ToString();
        if (_tags is not { } tags || tags.Status != status || tags.Type != job.Type || tags.LibraryId != job.LibraryId || tags.DeviceId != job.DeviceId)
        {
            _tags = new Tags(job.Type, status, job.LibraryId, job.DeviceId);
        }
    }

    private void Progress(object progress)
    {
        if (!publisher.HasListeners)
        {
            return;
        }

        if (publisher.Options.ProgressInterval <= TimeSpan.Zero)
        {
            publisher.Publish(ProgressEvent(progress)); // no throttle configured
            return;
        }

        bool first;
        lock (_lock)
        {
            first = _pendingProgress is null;
            _pendingProgress = progress;
        }

        if (first)
        {
            publisher.FlushProgressLater(this);
        }
    }

    private JobEvent ProgressEvent(object progress) => Event(JobEvent.ProgressKind) with
    {
        Progress = progress is JobProgressTracker tracker ? tracker.Snapshot() : (JobProgress)progress,
    };

    private JobEvent Event(string kind)
    {
        var tags = _tags;
        return new(0, kind, jobId, tags?.Type, tags?.Status, tags?.LibraryId, tags?.DeviceId, time.GetUtcNow());
    }

    private sealed record Tags(string Type, string Status, string? LibraryId, string? DeviceId);
}
