using System.Buffers;
using System.ComponentModel;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansJobs.ApiHost.Events;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Live job events as server-sent events (docs/events.md).</summary>
public static class EventsApi
{
    private const string StreamDescription = "A text/event-stream of job events: journal entries (event: journal, with an id), throttled " +
        "progress (event: progress) and messages (event: message), without ids. Reconnecting with the Last-Event-ID header (or lastEventId) " +
        "replays from the journal every entry after that id, then goes on live, missing none and repeating none. A client that falls " +
        "Events:ClientBufferSize events behind gets event: reconnect (with the last id sent) and the stream ends. See docs/events.md.";

    private const string LastEventIdDescription = "Resume after this event id (the Last-Event-ID header, for clients that cannot set headers).";

    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/events", AllEvents)
            .WithTags("Events")
            .WithName("StreamEvents")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("Live events of all jobs, filtered by type, status, library and device (server-sent events)")
            .WithDescription(StreamDescription + " Without Last-Event-ID the stream starts live.")
            .Produces<string>(StatusCodes.Status200OK, EventFrames.ContentType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/api/jobs/{id}/events", JobEvents)
            .WithTags("Jobs")
            .WithName("StreamJobEvents")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("Live events of one job (server-sent events)")
            .WithDescription(StreamDescription + " Without Last-Event-ID the stream first replays the job's whole journal.")
            .Produces<string>(StatusCodes.Status200OK, EventFrames.ContentType)
            .ProducesJobProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<EmptyHttpResult, ValidationProblem, ProblemHttpResult>> AllEvents(
        [AsParameters] EventsQuery query,
        [FromHeader(Name = "Last-Event-ID"), Description(LastEventIdDescription)] string? lastEventIdHeader,
        HttpContext http, JobEventFeed feed, EventReads reads, IOptions<EventsOptions> options, IHostApplicationLifetime host, CancellationToken cancellationToken)
    {
        var (after, field, error) = EventCursor.Resume(lastEventIdHeader, query.LastEventId);
        if (field is not null)
        {
            return ApiProblems.Invalid(field, error!);
        }

        var statuses = query.Status?.SelectMany(s => s.Statuses).Select(s => s.ToString()).ToHashSet(StringComparer.Ordinal);
        var filter = new EventFilter(null, query.Type, statuses is { Count: > 0 } ? statuses : null, query.LibraryId, query.DeviceId);
        return await StreamAsync(http, feed, reads, options.Value, host, filter, after, replayWhole: false, cancellationToken);
    }

    public static async Task<Results<EmptyHttpResult, ValidationProblem, ProblemHttpResult>> JobEvents(
        [JobId] string id,
        [FromQuery(Name = "lastEventId"), Description(LastEventIdDescription)] EventCursor? lastEventId,
        [FromHeader(Name = "Last-Event-ID"), Description(LastEventIdDescription)] string? lastEventIdHeader,
        HttpContext http, JobEventFeed feed, EventReads reads, JobReads jobs, IOptions<EventsOptions> options, IHostApplicationLifetime host,
        CancellationToken cancellationToken)
    {
        var (after, field, error) = EventCursor.Resume(lastEventIdHeader, lastEventId);
        if (field is not null)
        {
            return ApiProblems.Invalid(field, error!);
        }

        if (!await reads.JobKnownAsync(id, cancellationToken) && (await jobs.ReadAsync(id, cancellationToken)).Job is null)
        {
            return ApiProblems.NotFound(id);
        }

        return await StreamAsync(http, feed, reads, options.Value, host, new EventFilter(id), after, replayWhole: true, cancellationToken);
    }

    private static async Task<Results<EmptyHttpResult, ValidationProblem, ProblemHttpResult>> StreamAsync(
        HttpContext http, JobEventFeed feed, EventReads reads, EventsOptions settings, IHostApplicationLifetime host, EventFilter filter, long? after,
        bool replayWhole, CancellationToken requestAborted)
    {
        // A stream ends with the request or when the host stops (clients reconnect to another host).
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, host.ApplicationStopping);
        var cancellationToken = ended.Token;
        // Join the feed first: what it delivers from LiveFrom on comes live, everything below from the journal.
        using var client = await feed.JoinAsync(filter, after ?? 0, cancellationToken);
        if (client is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many event streams",
                detail: $"This API host serves {settings.MaxClients} event streams already (Events:MaxClients); try again later or another host.");
        }

        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = EventFrames.ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies must pass each event on at once
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.BodyWriter;
        var last = after ?? 0;
        try
        {
            await body.WriteAsync(EventFrames.Opening, cancellationToken);
            if (after is not null || replayWhole)
            {
                var written = 0;
                await foreach (var e in reads.ReadAsync(last + 1, client.LiveFrom, filter, settings.ReplayPageSize, cancellationToken))
                {
                    if (client.Overflowed)
                    {
                        break;
                    }

                    body.Write(EventFrames.From(e).Frame);
                    last = e.EventId;
                    if (++written % 100 == 0)
                    {
                        await body.FlushAsync(cancellationToken);
                    }
                }
            }

            await LiveAsync(client, body, last, settings.KeepAliveInterval, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }

        return TypedResults.Empty;
    }

    private static async Task LiveAsync(EventClient client, System.IO.Pipelines.PipeWriter body, long last, TimeSpan keepAlive, CancellationToken cancellationToken)
    {
        var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                while (!client.Overflowed && client.Reader.TryRead(out var e))
                {
                    if (e.EventId != 0 && e.EventId <= last)
                    {
                        continue;
                    }

                    body.Write(e.Frame);
                    last = e.EventId != 0 ? e.EventId : last;
                }

                if (client.Overflowed)
                {
                    // Too far behind: what it missed is in the journal, after the last id it was sent.
                    await body.WriteAsync(EventFrames.Reconnect(last, "the client fell Events:ClientBufferSize events behind; reconnect with Last-Event-ID"), cancellationToken);
                    return;
                }

                await body.FlushAsync(cancellationToken);
                quiet.CancelAfter(keepAlive);
                try
                {
                    if (!await client.Reader.WaitToReadAsync(quiet.Token) && !client.Overflowed)
                    {
                        return; // left the feed
                    }

                    quiet.CancelAfter(Timeout.InfiniteTimeSpan);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await body.WriteAsync(EventFrames.KeepAlive, cancellationToken);
                    quiet.Dispose();
                    quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                }
            }
        }
        finally
        {
            quiet.Dispose();
        }
    }
}
