using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/workers/claim</c>.</summary>
/// <param name="WorkerId">Names the worker in the journal and on the job (1-200 characters).</param>
/// <param name="Types">External job types the worker runs, in the order it prefers them (1-20).</param>
/// <param name="LeaseSeconds">How long the lease lasts after the claim and after each report; default per type (30 s).</param>
public sealed record ClaimRequest(string WorkerId, IReadOnlyList<string> Types, double? LeaseSeconds);

/// <summary>A claimed job: run it, reporting under <c>leaseToken</c> before <c>leaseExpiresAt</c> each time.</summary>
public sealed record ClaimResponse(
    string JobId, string Type, JsonElement Parameters, JobCheckpoint Checkpoint, JobProgress Progress, int Attempt, string LeaseToken,
    DateTimeOffset LeaseExpiresAt, double LeaseSeconds, int CheckpointEveryItems, int CheckpointIntervalMs);

/// <summary>Body of the worker report endpoints; which fields count depends on the endpoint.</summary>
/// <param name="LeaseToken">The token of the claim. Required.</param>
/// <param name="Progress">progress: processed, total, fraction (0-1).</param>
/// <param name="Checkpoint">progress, complete, fail: cursor (string), processed, counters; stored durably.</param>
/// <param name="Messages">messages (and any other report): level (info, warning, error) and text, at most 100.</param>
/// <param name="Error">fail: what went wrong. Required there.</param>
public sealed record WorkerReportRequest(
    string LeaseToken, WorkerProgressBody? Progress, JobCheckpoint? Checkpoint, IReadOnlyList<WorkerMessageBody>? Messages, string? Error);

/// <summary>Progress as a worker reports it.</summary>
public sealed record WorkerProgressBody(long? Processed, long? Total, double? Fraction);

/// <summary>A message as a worker reports it.</summary>
public sealed record WorkerMessageBody(string Level, string Text);

/// <summary>A report was taken: the job's status and when the lease now ends (null once it has ended).</summary>
public sealed record WorkerReportResponse(JobStatus Status, DateTimeOffset? LeaseExpiresAt);

/// <summary>The worker API: external workers claim queued jobs of external types and report on them under a lease.</summary>
public static class WorkersApi
{
    private const int MaxMessages = 100;
    private const int MaxMessageLength = 4000;
    private const int MaxCursorLength = 16 * 1024;

    private static readonly Dictionary<string, WorkerReportKind> Reports = new(StringComparer.Ordinal)
    {
        ["heartbeat"] = WorkerReportKind.Heartbeat,
        ["progress"] = WorkerReportKind.Progress,
        ["messages"] = WorkerReportKind.Messages,
        ["complete"] = WorkerReportKind.Complete,
        ["fail"] = WorkerReportKind.Fail,
    };

    public static IEndpointRouteBuilder MapWorkersApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/workers/claim", Claim)
            .WithTags("Workers")
            .WithName("ClaimJob")
            .WithSummary("Claim the next queued job of the given external types")
            .WithDescription("Leases the next queued job (priority, then arrival order; at most MaxConcurrent leased per type) to the " +
                "worker: 200 with its parameters, checkpoint and lease token, or 204 when none waits. The lease lasts leaseSeconds after " +
                "the claim and after every report; a job whose lease lapses goes back to the queue with its last checkpoint.")
            .Accepts<ClaimRequest>("application/json")
            .Produces<ClaimResponse>()
            .Produces(StatusCodes.Status204NoContent)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/api/jobs/{id}/{report:regex(^(heartbeat|progress|messages|complete|fail)$)}", Report)
            .WithTags("Workers")
            .WithName("ReportOnJob")
            .WithSummary("A worker's heartbeat, progress, messages, complete or fail, under its lease")
            .WithDescription("heartbeat: extends the lease. progress: progress and optionally a checkpoint (stored durably). messages: " +
                "messages for operators. complete: the job is done (optional final checkpoint). fail: the attempt failed (error required); " +
                "the job is retried from its checkpoint while attempts remain. Every accepted report extends the lease. A report under an " +
                "expired or superseded lease token (lapsed, claimed again, cancelled, paused, killed) answers 409 and changes nothing: " +
                "the worker must stop working on the job.")
            .Accepts<WorkerReportRequest>("application/json")
            .Produces<WorkerReportResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<IResult> Claim(HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, bodyError) = await JobRequests.ReadJsonAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return JobsApi.Invalid([bodyError]);
        }

        var errors = new List<FieldError>();
        if (body is not { ValueKind: JsonValueKind.Object } root)
        {
            return JobsApi.Invalid([new FieldError("body", "must be a JSON object with workerId and types")]);
        }

        JobRequests.Unknown(root, ["workerId", "types", "leaseSeconds"], "a claim", errors);
        var workerId = JobRequests.String(root, "workerId", errors, required: true, maxLength: 200);
        var types = new List<string>();
        if (!root.TryGetProperty("types", out var t) || t.ValueKind != JsonValueKind.Array || t.GetArrayLength() is 0 or > 20)
        {
            errors.Add(new("types", "must be an array of 1 to 20 job type names"));
        }
        else
        {
            var i = 0;
            foreach (var item in t.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && item.GetString() is { Length: > 0 and <= 64 } name)
                {
                    types.Add(name);
                }
                else
                {
                    errors.Add(new($"types[{i}]", "must be a job type name (a string of 1 to 64 characters)"));
                }

                i++;
            }
        }

        TimeSpan? lease = null;
        if (root.TryGetProperty("leaseSeconds", out var l) && l.ValueKind != JsonValueKind.Null)
        {
            if (l.ValueKind == JsonValueKind.Number && l.TryGetDouble(out var seconds) && seconds is > 0 and <= 86_400)
            {
                lease = TimeSpan.FromSeconds(seconds);
            }
            else
            {
                errors.Add(new("leaseSeconds", "must be a number of seconds above 0 (the type sets the allowed range)"));
            }
        }

        if (errors.Count > 0)
        {
            return JobsApi.Invalid(errors);
        }

        var result = await cluster.GetGrain<IWorkerGatewayGrain>(0).ClaimAsync(workerId!, types, lease);
        if (result.Errors.Count > 0)
        {
            return JobsApi.Invalid(result.Errors.Select(e => new FieldError(e.Field, e.Message)));
        }

        if (result.Lease is not { } claimed)
        {
            return TypedResults.NoContent();
        }

        return TypedResults.Ok(new ClaimResponse(
            claimed.JobId, claimed.Type, JsonDocument.Parse(claimed.ParametersJson).RootElement.Clone(), claimed.Checkpoint, claimed.Progress,
            claimed.Attempt, claimed.LeaseToken, claimed.LeaseExpiresAt, claimed.LeaseDuration.TotalSeconds, claimed.CheckpointEveryItems,
            (int)claimed.CheckpointInterval.TotalMilliseconds));
    }

    public static async Task<IResult> Report(string id, string report, HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, bodyError) = await JobRequests.ReadJsonAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return JobsApi.Invalid([bodyError]);
        }

        var kind = Reports[report];
        var (parsed, errors) = ParseReport(kind, body);
        if (parsed is null)
        {
            return JobsApi.Invalid(errors);
        }

        var result = await cluster.GetGrain<IJobGrain>(id).ReportAsync(parsed);
        return result.Outcome switch
        {
            WorkerReportOutcome.NotFound => JobsApi.NotFound(id),
            WorkerReportOutcome.LeaseLost => TypedResults.Problem(
                title: "Lease lost",
                detail: $"Job {id}: {result.Detail}. Nothing was changed; stop working on this job.",
                statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["jobId"] = id, ["jobStatus"] = result.Status?.ToString() }),
            WorkerReportOutcome.NotLeased => TypedResults.Problem(
                title: "Not run by a worker",
                detail: $"Job {id}: {result.Detail}. Nothing was changed.",
                statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["jobId"] = id, ["jobStatus"] = result.Status?.ToString() }),
            _ => TypedResults.Ok(new WorkerReportResponse(result.Status!.Value, result.LeaseExpiresAt)),
        };
    }

    internal static (WorkerReport? Report, List<FieldError> Errors) ParseReport(WorkerReportKind kind, JsonElement? body)
    {
        var errors = new List<FieldError>();
        if (body is not { ValueKind: JsonValueKind.Object } root)
        {
            errors.Add(new("body", "must be a JSON object with leaseToken"));
            return (null, errors);
        }

        JobRequests.Unknown(root, ["leaseToken", "progress", "checkpoint", "messages", "error"], "a worker report", errors);
        var token = JobRequests.String(root, "leaseToken", errors, required: true, maxLength: 200);
        JobProgress? progress = null;
        if (root.TryGetProperty("progress", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            progress = ParseProgress(p, errors);
        }

        JobCheckpoint? checkpoint = null;
        if (root.TryGetProperty("checkpoint", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            checkpoint = ParseCheckpoint(c, errors);
        }

        List<JobMessage>? messages = null;
        if (root.TryGetProperty("messages", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            messages = ParseMessages(m, errors);
        }

        var error = JobRequests.String(root, "error", errors, required: kind == WorkerReportKind.Fail, maxLength: MaxMessageLength);
        if (error is not null && kind != WorkerReportKind.Fail)
        {
            errors.Add(new("error", "is only taken by fail"));
        }

        if (kind == WorkerReportKind.Messages && messages is not { Count: > 0 } && !errors.Any(e => e.Field.StartsWith("messages", StringComparison.Ordinal)))
        {
            errors.Add(new("messages", "is required: at least one message"));
        }

        return errors.Count > 0 ? (null, errors) : (new WorkerReport(kind, token!, progress, checkpoint, messages, error), errors);
    }

    private static JobProgress? ParseProgress(JsonElement p, List<FieldError> errors)
    {
        if (p.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("progress", "must be an object with processed, total and/or fraction"));
            return null;
        }

        var before = errors.Count;
        JobRequests.Unknown(p, ["processed", "total", "fraction"], "progress", errors, "progress.");
        var processed = Long(p, "processed", errors, "progress.") ?? 0;
        var total = Long(p, "total", errors, "progress.");
        double? fraction = null;
        if (p.TryGetProperty("fraction", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            if (f.ValueKind == JsonValueKind.Number && f.TryGetDouble(out var value) && value is >= 0 and <= 1)
            {
                fraction = value;
            }
            else
            {
                errors.Add(new("progress.fraction", "must be a number from 0 to 1"));
            }
        }

        if (total is { } max && processed > max)
        {
            errors.Add(new("progress.processed", "must not exceed progress.total"));
        }

        if (errors.Count > before)
        {
            return null;
        }

        return new JobProgress(fraction ?? (total is > 0 ? (double)processed / total.Value : 0), processed, total, []);
    }

    private static JobCheckpoint? ParseCheckpoint(JsonElement c, List<FieldError> errors)
    {
        if (c.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("checkpoint", "must be an object with cursor, processed and/or counters"));
            return null;
        }

        var before = errors.Count;
        JobRequests.Unknown(c, ["cursor", "processed", "counters"], "a checkpoint", errors, "checkpoint.");
        var cursor = JobRequests.String(c, "cursor", errors, required: false, maxLength: MaxCursorLength);
        var processed = Long(c, "processed", errors, "checkpoint.") ?? 0;
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        if (c.TryGetProperty("counters", out var k) && k.ValueKind != JsonValueKind.Null)
        {
            if (k.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new("checkpoint.counters", "must be an object of name: whole number"));
            }
            else
            {
                foreach (var counter in k.EnumerateObject().Take(101))
                {
                    if (counters.Count == 100)
                    {
                        errors.Add(new("checkpoint.counters", "must have at most 100 entries"));
                        break;
                    }

                    if (counter.Value.ValueKind == JsonValueKind.Number && counter.Value.TryGetInt64(out var value) && counter.Name.Length is > 0 and <= 100)
                    {
                        counters[counter.Name] = value;
                    }
                    else
                    {
                        errors.Add(new($"checkpoint.counters.{counter.Name}", "must be a whole number under a name of 1 to 100 characters"));
                    }
                }
            }
        }

        return errors.Count > before ? null : new JobCheckpoint(cursor, processed, counters);
    }

    private static List<JobMessage>? ParseMessages(JsonElement m, List<FieldError> errors)
    {
        if (m.ValueKind != JsonValueKind.Array || m.GetArrayLength() is 0 or > MaxMessages)
        {
            errors.Add(new("messages", $"must be an array of 1 to {MaxMessages} messages"));
            return null;
        }

        var before = errors.Count;
        var messages = new List<JobMessage>();
        var i = 0;
        foreach (var item in m.EnumerateArray())
        {
            var field = $"messages[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(field, "must be an object with level and text"));
                continue;
            }

            var level = item.TryGetProperty("level", out var l) && l.ValueKind == JsonValueKind.String ? l.GetString() : null;
            JobMessageLevel? parsed = level switch
            {
                "info" => JobMessageLevel.Info,
                "warning" => JobMessageLevel.Warning,
                "error" => JobMessageLevel.Error,
                _ => null,
            };
            if (parsed is null)
            {
                errors.Add(new($"{field}.level", "is required: info, warning or error"));
            }

            var text = item.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (text is not { Length: > 0 and <= MaxMessageLength })
            {
                errors.Add(new($"{field}.text", $"is required: a string of 1 to {MaxMessageLength} characters"));
            }
            else if (parsed is { } ok)
            {
                messages.Add(new JobMessage(DateTimeOffset.UtcNow, ok, text));
            }
        }

        return errors.Count > before ? null : messages;
    }

    private static long? Long(JsonElement root, string name, List<FieldError> errors, string prefix)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < 0)
        {
            errors.Add(new(prefix + name, "must be a whole number of 0 or more"));
            return null;
        }

        return number;
    }
}
