using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Jobs;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Submit, read and control jobs.</summary>
public static class JobsApi
{
    private const string ActionDescription = "Repeating a request answers 200 with the job unchanged; an action the job's status forbids " +
        "answers 409 with the current status in jobStatus, and changes nothing. The body is optional.";

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/jobs").WithTags("Jobs");
        jobs.MapPost("/", Submit)
            .WithName("SubmitJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Submit a job")
            .WithDescription("Creates a job and starts it. With an idempotency key (body field or Idempotency-Key header) a repeated " +
                "submission returns the existing job (200) instead of creating another; the same key with a different request is a 409.")
            .ProducesJobProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/", List)
            .WithName("ListJobs")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("List jobs, newest first, from the job index")
            .WithDescription("The index trails the live job by at most one checkpoint. Page with limit and the previous page's nextCursor.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/{id}", Get)
            .WithName("GetJob")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("A job with its live progress, checkpoint, messages and attempts")
            .WithDescription("Answers within about a second whatever the cluster's state: when the job's silo does not answer in time, " +
                "the job is read from its stored state and siloUnreachable is true (it may trail the live job by one checkpoint).")
            .ProducesJobProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapDelete("/{id}", CancelByDelete)
            .WithName("DeleteJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Cancel a job (same as POST /api/jobs/{id}/cancel)")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/cancel", Cancel)
            .WithName("CancelJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Cancel a job: finish the current item, save the checkpoint, then Cancelled")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/kill", Kill)
            .WithName("KillJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Kill a job: Killed at once; later writes of the abandoned run are refused")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/pause", Pause)
            .WithName("PauseJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Pause a job at its next item boundary, with its checkpoint saved")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/resume", Resume)
            .WithName("ResumeJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Resume a paused job from its checkpoint")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/restart", Restart)
            .WithName("RestartJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Start a new attempt of a terminal or paused job (from its checkpoint unless fromCheckpoint is false)")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapPost("/{id}/force-fail", ForceFail)
            .WithName("ForceFailJob")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Fail a job at once, with the given reason as its error")
            .WithDescription(ActionDescription)
            .ProducesJobActionProblems();
        jobs.MapGet("/{id}/journal", Journal)
            .WithName("GetJobJournal")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("The job's journal, oldest first: a JSON array, or JSON Lines with format=jsonl")
            .ProducesJobProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/{id}/operations", Operations)
            .WithName("GetJobOperations")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("The file operations of a file job (its transaction log), in plan order, with totals by status")
            .WithDescription("JSON: a page with totals; format=jsonl: the operations as JSON Lines (application/jsonl).")
            .ProducesJobProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Ok<FileOperationPage>, ContentHttpResult, ValidationProblem, ProblemHttpResult>> Operations(
        [JobId] string id, [AsParameters] FileOperationsQuery query, FileOperationReads operations, JobReads reads, CancellationToken cancellationToken)
    {
        var lines = query.Format is { Lines: true };
        var page = await operations.ReadAsync(id, query, lines ? query.Limit : query.Limit ?? FileOperationsQuery.DefaultLimit, cancellationToken);
        if (page.Items.Count == 0 && page.Totals.Values.Sum() == 0 && (await reads.ReadAsync(id, cancellationToken)).Job is null)
        {
            return ApiProblems.NotFound(id);
        }

        if (!lines)
        {
            return TypedResults.Ok(page);
        }

        var text = new StringBuilder();
        foreach (var operation in page.Items)
        {
            text.Append(JsonSerializer.Serialize(operation, ApiJson.Options)).Append('\n');
        }

        return TypedResults.Text(text.ToString(), ApiDocumentation.JsonLines, Encoding.UTF8);
    }

    public static async Task<Results<Created<JobResponse>, Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Submit(
        SubmitJobRequest request, [FromHeader(Name = "Idempotency-Key"), Description("Same key, same job (1-200 characters); the body's idempotencyKey, if also given, must be equal.")]
        string? idempotencyKey, HttpContext http, IClusterClient cluster, TimeProvider time)
    {
        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > JobSubmissionLimits.MaxIdempotencyKeyLength || !StorableText.IsStorable(idempotencyKey)))
        {
            return ApiProblems.Invalid("Idempotency-Key", $"must be 1 to {JobSubmissionLimits.MaxIdempotencyKeyLength} characters");
        }

        if (request.IdempotencyKey is { } bodyKey && idempotencyKey is not null && !string.Equals(bodyKey, idempotencyKey, StringComparison.Ordinal))
        {
            return ApiProblems.Invalid("idempotencyKey", "differs from the Idempotency-Key header");
        }

        var submission = request.ToSubmission(idempotencyKey, ApiActors.Of(http));
        if (JobSubmissionLimits.Validate(submission, time.GetUtcNow()) is { Count: > 0 } errors)
        {
            return ApiProblems.Invalid(errors);
        }

        var id = JobIds.For(submission.IdempotencyKey);
        var result = await cluster.Reference<IJobGrain>(id).SubmitAsync(submission);
        return result.Outcome switch
        {
            JobSubmitOutcome.Created => TypedResults.Created($"/api/jobs/{id}", JobResponse.From(result.Job!)),
            JobSubmitOutcome.Existing => TypedResults.Ok(JobResponse.From(result.Job!)),
            JobSubmitOutcome.KeyConflict => ApiProblems.Conflict(id, null, "Idempotency key already used",
                $"The idempotency key was used for a different request (job {id}); use a new key for a new job."),
            _ => ApiProblems.Invalid(result.Errors),
        };
    }

    public static async Task<Results<Ok<JobPage>, ValidationProblem>> List([AsParameters] ListJobsQuery query, JobListing listing, CancellationToken cancellationToken) =>
        TypedResults.Ok(await listing.QueryAsync(query, cancellationToken));

    public static async Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Get(
        [JobId] string id, JobReads reads, CancellationToken cancellationToken)
    {
        var read = await reads.ReadAsync(id, cancellationToken);
        return read.Job is null ? ApiProblems.NotFound(id) : TypedResults.Ok(JobResponse.From(read.Job, read.SiloUnreachable));
    }

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> CancelByDelete(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Cancel, "cancel", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Cancel(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Cancel, "cancel", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Kill(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Kill, "kill", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Pause(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Pause, "pause", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Resume(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Resume, "resume", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> Restart(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.Restart, "restart", id, request, http, cluster);

    public static Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> ForceFail(
        [JobId] string id, HttpContext http, IClusterClient cluster, [FromBody] JobActionRequest? request = null) =>
        ControlAsync(JobAction.ForceFail, "force-fail", id, request, http, cluster);

    public static async Task<Results<Ok<List<JournalEntryResponse>>, ContentHttpResult, ValidationProblem, ProblemHttpResult>> Journal(
        [JobId] string id, [FromQuery(Name = "format"), Description("json (default): a JSON array; jsonl: one entry per line (application/jsonl).")] JournalFormat? format, JobJournal journal, JobReads reads, CancellationToken cancellationToken)
    {
        var entries = await journal.ReadAsync(id, cancellationToken);
        if (entries.Count == 0 && (await reads.ReadAsync(id, cancellationToken)).Job is null)
        {
            return ApiProblems.NotFound(id);
        }

        if (format is not { Lines: true })
        {
            return TypedResults.Ok(entries);
        }

        var lines = new StringBuilder();
        foreach (var entry in entries)
        {
            lines.Append(JsonSerializer.Serialize(entry, ApiJson.Options)).Append('\n');
        }

        return TypedResults.Text(lines.ToString(), ApiDocumentation.JsonLines, Encoding.UTF8);
    }

    private static async Task<Results<Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> ControlAsync(
        JobAction action, string verb, string id, JobActionRequest? request, HttpContext http, IClusterClient cluster)
    {
        var control = new JobControl(action, ApiActors.Of(http), request?.Reason, request?.FromCheckpoint ?? true);
        var result = await cluster.Reference<IJobGrain>(id).ControlAsync(control);
        if (result.Job is null)
        {
            return ApiProblems.NotFound(id);
        }

        return result.Kind == JobActionKind.Conflict
            ? ApiProblems.Conflict(id, result.Job.Status, $"Cannot {verb} a {result.Job.Status} job",
                $"Job {id} is {result.Job.Status}; {verb} is not possible in that state. Nothing was changed.")
            : TypedResults.Ok(JobResponse.From(result.Job));
    }

}
