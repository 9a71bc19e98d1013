using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Events;

/// <summary>
/// A job's live progress and message events, throttled: at most one progress event per
/// <see cref="JobEventPublisherOptions.ProgressInterval"/> and
/// <see cref="JobEventPublisherOptions.MaxMessagesPerSecond"/> messages. Called from the handler's
/// thread and from the grain, so thread-safe; costs one field read while no host listens.
/// </summary>
internal sealed class LiveJobEvents(JobEventPublisher publisher, Func<StoredJob> job, string jobId, TimeProvider time)
{
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

    private JobEvent Event(string kind)
    {
        // Read off the grain's turn: a status a moment old is good enough for filtering a live event.
        var stored = job();
        return new(0, kind, jobId, stored.Type, stored.Status.ToString(), stored.LibraryId, stored.DeviceId, time.GetUtcNow());
    }
}
