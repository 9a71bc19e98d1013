using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Events;

/// <summary>
/// A job's live progress and message events, throttled: at most one progress event per
/// <see cref="JobEventPublisherOptions.ProgressInterval"/> and
/// <see cref="JobEventPublisherOptions.MaxMessagesPerSecond"/> messages. Called from the handler's
/// thread and from the grain, so thread-safe (grain state may only be read on the grain's turn: the grain hands the
/// job's tags over with <see cref="Update"/>); costs one field read while no host listens.
/// </summary>
internal sealed class LiveJobEvents(JobEventPublisher publisher, string jobId, TimeProvider time)
{
    private volatile Tags? _tags;
    private readonly Lock _lock = new();
    private long _progressAt;
    private long _messageWindow;
    private int _messagesInWindow;

    /// <summary>The tracker's progress changed (the run's thread).</summary>
    public void ProgressChanged(JobProgressTracker tracker)
    {
        if (publisher.HasListeners && Due())
        {
            publisher.Publish(Event(JobEvent.ProgressKind) with { Progress = tracker.Snapshot() });
        }
    }

    /// <summary>A worker reported progress.</summary>
    public void ProgressReported(JobProgress progress)
    {
        if (publisher.HasListeners && Due())
        {
            publisher.Publish(Event(JobEvent.ProgressKind) with { Progress = progress });
        }
    }

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

    private bool Due()
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_progressAt != 0 && time.GetElapsedTime(_progressAt, now) < publisher.Options.ProgressInterval)
            {
                return false;
            }

            _progressAt = now;
            return true;
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

    private JobEvent Event(string kind)
    {
        var tags = _tags;
        return new(0, kind, jobId, tags?.Type, tags?.Status, tags?.LibraryId, tags?.DeviceId, time.GetUtcNow());
    }

    private sealed record Tags(string Type, string Status, string? LibraryId, string? DeviceId);
}
