using System.Net;
using Microsoft.Extensions.Logging;
using OrleansJobs.Workers.Http;

namespace OrleansJobs.Workers;

/// <summary>Sending a lease's reports: one at a time, retried while the lease lasts; a 409 marks the lease lost.</summary>
internal sealed partial class JobLease
{
    private async Task<bool> SendTerminalAsync(Kind kind, Func<IReadOnlyList<MessageBody>?, ReportBody> build)
    {
        // More messages than one report carries go ahead on their own, so the last report can take the rest.
        while (PendingMessages() > MaxMessagesPerReport)
        {
            if (await SendAsync(Kind.Messages, messages => new ReportBody(_leaseToken, Messages: messages), CancellationToken.None).ConfigureAwait(false) != Outcome.Accepted)
            {
                return false;
            }
        }

        // Not cancellable: the report that ends the job must go out even as the worker stops; the lease bounds it.
        return await SendAsync(kind, build, CancellationToken.None).ConfigureAwait(false) == Outcome.Accepted;
    }

    private async Task<Outcome> SendAsync(Kind kind, Func<IReadOnlyList<MessageBody>?, ReportBody> build, CancellationToken cancellationToken)
    {
        await _reportLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ReportBody body;
            lock (_gate)
            {
                if (_lostReason is not null)
                {
                    return Outcome.Lost;
                }

                if (_ended)
                {
                    return Outcome.Ended;
                }

                // Once a terminal report is on its way, nothing else is sent: never a second completion, no heartbeat after it.
                _ended = kind is Kind.Complete or Kind.Fail or Kind.Release;
                var messages = TakeMessages();
                if (kind == Kind.Heartbeat && messages is not null)
                {
                    kind = Kind.Messages;
                }

                body = build(messages);
            }

            return await SendWithRetriesAsync(kind, body, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _reportLock.Release();
        }
    }

    private async Task<Outcome> SendWithRetriesAsync(Kind kind, ReportBody body, CancellationToken cancellationToken)
    {
        var path = WorkerApiClient.JobPath(Job.Id, kind.ToString().ToLowerInvariant());
        var terminal = kind is Kind.Complete or Kind.Fail or Kind.Release;
        var retryDelay = MinRetryDelay;
        var unanswered = false;
        while (true)
        {
            var sentAt = _time.GetTimestamp();
            var remaining = LeaseRemaining(sentAt);
            if (remaining <= TimeSpan.Zero)
            {
                MarkLost(null, $"no report got through for the lease's {Duration.TotalSeconds:0.###} s, so it has lapsed");
                return Outcome.Lost;
            }

            var timeout = remaining < MinAttemptTimeout ? MinAttemptTimeout : remaining;
            var answer = await _api.PostAsync(path, body, WireJson.Default.ReportBody, timeout < _requestTimeout ? timeout : _requestTimeout, cancellationToken)
                .ConfigureAwait(false);
            if (answer.IsOk)
            {
                lock (_gate)
                {
                    _extendedAt = sentAt;
                }

                return Outcome.Accepted;
            }

            if (answer.Status is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                if (terminal && unanswered)
                {
                    // The earlier try may have been taken, its answer lost: the job has ended for this worker either way.
                    _logger.LogInformation("Job {JobId}: {Kind} answered {Answer} after an unanswered try; taking the earlier try as received",
                        Job.Id, kind, answer.Describe());
                    return Outcome.Accepted;
                }

                MarkLost(answer.Problem()?.JobStatus, answer.Describe());
                return Outcome.Lost;
            }

            if (!answer.IsTransient)
            {
                throw new WorkerApiException(answer.Status!.Value, $"The {path} report was refused: {answer.Describe()}");
            }

            unanswered = true;
            var wait = retryDelay < remaining ? retryDelay : remaining;
            _logger.LogWarning("Job {JobId}: {Kind} failed ({Answer}); trying again in {Delay} ms while the lease lasts ({Remaining} ms)",
                Job.Id, kind, answer.Describe(), (int)wait.TotalMilliseconds, (int)remaining.TotalMilliseconds);
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            retryDelay = retryDelay * 2 < MaxRetryDelay ? retryDelay * 2 : MaxRetryDelay;
        }
    }

    private void MarkLost(string? jobStatus, string reason)
    {
        lock (_gate)
        {
            if (_lostReason is not null)
            {
                return;
            }

            _lostReason = reason;
            _lostStatus = jobStatus;
            _messages.Clear();
        }

        _logger.LogWarning("Lease on job {JobId} lost ({Reason}); stopping work on it, reporting nothing more", Job.Id, reason);
        // The handler's callbacks run off this thread, not inside a report that holds the report lock.
        _lostCallbacks = _lost.CancelAsync();
    }

    private enum Outcome
    {
        Accepted,
        Lost,
        Ended,
    }
}
