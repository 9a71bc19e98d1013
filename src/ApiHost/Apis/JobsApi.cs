using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>A job as the API shows it.</summary>
public sealed record JobResponse(
    string Id,
    string Type,
    JobStatus Status,
    JobProgress Progress,
    int Attempt,
    int MaxAttempts,
    string? Silo,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string? QueuedReason,
    JobCheckpoint Checkpoint,
    IReadOnlyList<JobMessage> Messages,
    IReadOnlyList<JobAttempt> Attempts,
    int Priority,
    string? IdempotencyKey,
    int Recoveries,
    JsonElement Parameters,
    DateTimeOffset? RunAfter,
    string? Worker,
    DateTimeOffset? LeaseExpiresAt,
    long Version)
{
    public static JobResponse From(JobSnapshot job) => new(
        job.Id, job.Type, job.Status, job.Progress, job.Attempt, job.MaxAttempts, job.Silo, job.CreatedAt, job.StartedAt,
        job.FinishedAt, job.Error, job.QueuedReason, job.Checkpoint, job.Messages, job.Attempts, job.Priority,
        job.IdempotencyKey, job.Recoveries, JsonDocument.Parse(job.ParametersJson).RootElement.Clone(), job.RunAfter, job.Worker,
        job.LeaseExpiresAt, job.Version);
}

/// <summary>One journal entry as the API shows it.</summary>
public sealed record JournalEntryResponse(
    long Seq, DateTimeOffset At, string Type, string? From, string? To, string? Reason, string? Actor, string? Silo, JsonElement? Data);

/// <summary>Submit, read and control jobs.</summary>
public static class JobsApi
{
    private static readonly Dictionary<string, JobAction> Actions = new(StringComparer.Ordinal)
    {
        ["cancel"] = JobAction.Cancel,
        ["kill"] = JobAction.Kill,
        ["pause"] = JobAction.Pause,
        ["resume"] = JobAction.Resume,
        ["restart"] = JobAction.Restart,
        ["force-fail"] = JobAction.ForceFail,
    };

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/jobs").WithTags("Jobs");
        jobs.MapPost("/", Submit)
            .WithName("SubmitJob")
            .WithSummary("Submit a job")
            .WithDescription("Creates a job and starts it. With an idempotency key (body field or Idempotency-Key header) a repeated " +
                "submission returns the existing job (200) instead of creating another; the same key with a different request is a 409.")
            .Accepts<SubmitJobRequest>("application/json")
            .Produces<JobResponse>(StatusCodes.Status201Created)
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/", List)
            .WithName("ListJobs")
            .WithSummary("List jobs, newest first, from the job index")
            .WithDescription("Filters: status (repeatable or comma-separated), type, createdFrom/createdTo (ISO 8601), stuck=true (running " +
                "without progress for Api:StuckAfter), interrupted=true (active jobs whose silo is no longer an active member). limit 1-500 " +
                "(default 50); cursor: the nextCursor of the previous page. The index trails the live job by at most one checkpoint.")
            .Produces<JobPage>()
            .ProducesValidationProblem();
        jobs.MapGet("/{id}", Get)
            .WithName("GetJob")
            .WithSummary("A job with its live progress, checkpoint, messages and attempts")
            .Produces<JobResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapDelete("/{id}", Cancel)
            .WithName("CancelJobByDelete")
            .WithSummary("Cancel a job (same as POST /api/jobs/{id}/cancel)")
            .Produces<JobResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/{action:regex(^(cancel|kill|pause|resume|restart|force-fail)$)}", Control)
            .WithName("ControlJob")
            .WithSummary("cancel, kill, pause, resume, restart or force-fail a job")
            .WithDescription("cancel: finish the current item, save the checkpoint, then Cancelled. kill: Killed at once; later writes of the " +
                "abandoned run are refused. pause/resume: stop at an item boundary / continue from the checkpoint. restart: a new attempt of a " +
                "terminal or paused job (fromCheckpoint, default true). force-fail: Failed with the given reason. Repeating a request " +
                "answers 200 with the job unchanged; an action the job's status forbids answers 409 with the current status.")
            .Accepts<JobActionRequest>("application/json")
            .Produces<JobResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapGet("/{id}/journal", Journal)
            .WithName("GetJobJournal")
            .WithSummary("The job's journal, oldest first (JSON array, or JSON Lines with ?format=jsonl)")
            .Produces<JournalEntryResponse[]>()
            .Produces<string>(StatusCodes.Status200OK, "application/jsonl")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem();
        return app;
    }

    public static async Task<IResult> Submit(HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, bodyError) = await JobRequests.ReadJsonAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return Invalid([bodyError]);
        }

        var headerKey = request.Headers.TryGetValue("Idempotency-Key", out var values) ? values.ToString() : null;
        var (submission, errors) = JobRequests.ParseSubmission(body, headerKey, Actor(request));
        if (submission is null)
        {
            return Invalid(errors);
        }

        var id = JobRequests.JobIdFor(submission.IdempotencyKey);
        var result = await cluster.GetGrain<IJobGrain>(id).SubmitAsync(submission);
        return result.Outcome switch
        {
            JobSubmitOutcome.Created => TypedResults.Created($"/api/jobs/{id}", JobResponse.From(result.Job!)),
            JobSubmitOutcome.Existing => TypedResults.Ok(JobResponse.From(result.Job!)),
            JobSubmitOutcome.KeyConflict => TypedResults.Problem(
                title: "Idempotency key already used",
                detail: $"The idempotency key was used for a different request (job {id}); use a new key for a new job.",
                statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["jobId"] = id }),
            _ => Invalid(result.Errors.Select(e => new FieldError(e.Field, e.Message))),
        };
    }

    public static async Task<IResult> List(HttpRequest request, JobListing listing, CancellationToken cancellationToken)
    {
        var (filter, errors) = JobListing.Parse(request.Query);
        return filter is null ? Invalid(errors) : TypedResults.Ok(await listing.QueryAsync(filter, cancellationToken));
    }

    public static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> Get(string id, IClusterClient cluster)
    {
        var job = await cluster.GetGrain<IJobGrain>(id).GetAsync();
        return job is null ? NotFound(id) : TypedResults.Ok(JobResponse.From(job));
    }

    public static Task<IResult> Cancel(string id, HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken) =>
        Control(id, "cancel", request, cluster, cancellationToken);

    public static async Task<IResult> Control(string id, string action, HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, bodyError) = await JobRequests.ReadJsonAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return Invalid([bodyError]);
        }

        var (parsed, errors) = JobRequests.ParseAction(body);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var control = new JobControl(Actions[action], Actor(request), parsed.Reason, parsed.FromCheckpoint ?? true);
        var result = await cluster.GetGrain<IJobGrain>(id).ControlAsync(control);
        if (result.Job is null)
        {
            return NotFound(id);
        }

        return result.Kind == JobActionKind.Conflict
            ? TypedResults.Problem(
                title: $"Cannot {action} a {result.Job.Status} job",
                detail: $"Job {id} is {result.Job.Status}; {action} is not possible in that state. Nothing was changed.",
                statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["jobStatus"] = result.Job.Status.ToString(), ["jobId"] = id })
            : TypedResults.Ok(JobResponse.From(result.Job));
    }

    public static async Task<IResult> Journal(string id, string? format, NpgsqlDataSource database, IClusterClient cluster, CancellationToken cancellationToken)
    {
        if (format is not (null or "json" or "jsonl"))
        {
            return Invalid([new FieldError("format", "must be json or jsonl")]);
        }

        var entries = new List<JournalEntryResponse>();
        await using (var command = database.CreateCommand(
            "SELECT seq, at, entry_type, from_status, to_status, reason, actor, silo, data::text FROM job_journal WHERE job_id = @id ORDER BY seq"))
        {
            command.Parameters.AddWithValue("id", id);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                entries.Add(new JournalEntryResponse(
                    reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), Nullable(reader, 3), Nullable(reader, 4),
                    Nullable(reader, 5), Nullable(reader, 6), Nullable(reader, 7),
                    reader.IsDBNull(8) ? null : JsonDocument.Parse(reader.GetString(8)).RootElement.Clone()));
            }
        }

        if (entries.Count == 0 && await cluster.GetGrain<IJobGrain>(id).GetAsync() is null)
        {
            return NotFound(id);
        }

        if (format == "jsonl")
        {
            var lines = new StringBuilder();
            foreach (var entry in entries)
            {
                lines.Append(JsonSerializer.Serialize(entry, ApiJson.Options)).Append('\n');
            }

            return TypedResults.Text(lines.ToString(), "application/jsonl", Encoding.UTF8);
        }

        return TypedResults.Ok(entries);
    }

    private static string? Nullable(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static string Actor(HttpRequest request) => $"api:{request.HttpContext.Connection.RemoteIpAddress}";

    internal static ProblemHttpResult NotFound(string id) => TypedResults.Problem(
        title: "Job not found", detail: $"No job has the id '{id}'.", statusCode: StatusCodes.Status404NotFound);

    internal static ValidationProblem Invalid(IEnumerable<FieldError> errors) => TypedResults.ValidationProblem(
        errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
        title: "The request is invalid");
}

/// <summary>JSON conventions of the API: camelCase, enums by name.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter());
        return options;
    }
}
