using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Safeguards;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/admin/retention/run</c>.</summary>
/// <param name="DryRun">true: only list the jobs the policy would delete.</param>
public sealed record RetentionRunRequest(bool? DryRun = null);

/// <summary>Body of <c>POST /api/admin/jobs/purge</c>: the finished jobs to delete; every member given must match, and at least one is given.</summary>
/// <param name="Ids">These jobs (1 to 1,000 ids).</param>
/// <param name="Status">Only these finished statuses (Completed, Failed, Cancelled, Killed).</param>
/// <param name="Type">Only jobs of this type.</param>
/// <param name="FinishedBefore">Only jobs that finished before this time (ISO 8601).</param>
/// <param name="Limit">At most this many jobs (1 to 1,000,000; default 10,000).</param>
/// <param name="DryRun">true: only list them.</param>
public sealed record PurgeJobsRequest(
    [property: MinLength(1, ErrorMessage = "must be an array of 1 to 1000 job ids"), MaxLength(1000, ErrorMessage = "must be an array of 1 to 1000 job ids")]
    IReadOnlyList<string>? Ids = null,
    IReadOnlyList<string>? Status = null,
    [property: StringLength(JobSubmissionLimits.MaxTypeLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Type = null,
    DateTimeOffset? FinishedBefore = null,
    [property: Range(1, 1_000_000, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? Limit = null,
    bool? DryRun = null) : IValidatableObject
{
    public const int DefaultLimit = 10_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Ids is null && Status is null && Type is null && FinishedBefore is null)
        {
            yield return new ValidationResult("name at least one of ids, status, type, finishedBefore (a purge of everything is the retention policy's)", ["ids"]);
        }

        for (var i = 0; i < (Ids?.Count ?? 0); i++)
        {
            if (!JobIds.IsWellFormed(Ids![i]))
            {
                yield return new ValidationResult($"must be a job id: 1 to {JobIds.MaxLength} characters, not blank, without control characters", [$"ids[{i}]"]);
            }
        }

        for (var i = 0; i < (Status?.Count ?? 0); i++)
        {
            // Names, not the enum: a shared enum schema must not pick up this list's nullability in the document.
            if (!Enum.TryParse<JobStatus>(Status![i], ignoreCase: false, out var status) || !Enum.IsDefined(status) || !char.IsLetter(Status[i][0])
                || !JobTransitions.IsTerminal(status))
            {
                yield return new ValidationResult("only finished jobs are purged: Completed, Failed, Cancelled or Killed", [$"status[{i}]"]);
            }
        }

        if (Type is not null && !StorableText.IsStorable(Type))
        {
            yield return new ValidationResult("must be a string of 1 to 64 characters", ["type"]);
        }
    }

    public PurgeFilter ToFilter() => new(Ids, Status?.Select(Enum.Parse<JobStatus>).ToList(), Type, FinishedBefore, Limit ?? DefaultLimit);
}

/// <summary>Body of <c>POST /api/admin/emergency-cleanup</c>.</summary>
/// <param name="Confirm">Must be exactly <c>stop every job</c>: nothing happens without it (a dry run needs it too).</param>
/// <param name="Mode"><c>cancel</c> (default: each job finishes its item; what still runs after the grace is killed) or <c>fail</c> (force-fail every job at once).</param>
/// <param name="GraceSeconds">With cancel: how long jobs may take to stop before they are killed, 1 to 600 s (default 30).</param>
/// <param name="DryRun">true: only count the active jobs, by status.</param>
public sealed record EmergencyCleanupRequestBody(
    [property: Required(ErrorMessage = "is required: \"stop every job\"")] string Confirm,
    string? Mode = null,
    [property: Range(1, 600, ErrorMessage = "must be a whole number from {1} to {2}")] int? GraceSeconds = null,
    bool? DryRun = null) : IValidatableObject
{
    public const string Phrase = "stop every job";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Confirm is not null && Confirm != Phrase)
        {
            yield return new ValidationResult($"must be exactly \"{Phrase}\"", ["confirm"]);
        }

        if (Mode is not (null or "cancel" or "fail"))
        {
            yield return new ValidationResult("must be cancel or fail", ["mode"]);
        }
    }
}

/// <summary>The last purge by the retention policy.</summary>
/// <param name="LastRun">The last run (scheduled or requested); null when none ran since its grain was activated.</param>
public sealed record RetentionStatus(PurgeRun? LastRun);

/// <summary>Body of <c>POST /api/admin/validator/run</c>.</summary>
/// <param name="DryRun">true: only count what is inconsistent; repair nothing.</param>
public sealed record ValidatorRunRequest(bool? DryRun = null);

/// <summary>Admin operations: retention runs, purges, the state validator, the emergency cleanup.</summary>
public static class AdminApi
{
    private const string PurgeDescription = "Deletes each finished job's state, index row, journal and file operations, in batches; a job " +
        "that is not finished (any more) is skipped and counted. candidates: jobs found; purged: deleted; skipped: not finished; failed: " +
        "not reached (a later run tries again); sample: the first ids found.";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/admin").WithTags("Admin");
        admin.MapGet("/retention", RetentionStatus)
            .WithName("GetRetentionStatus")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("The last run of the retention policy")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/retention/run", RunRetention)
            .WithName("RunRetention")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Run the retention policy now: finished jobs older than Retention:Retention (30 days), or beyond Retention:MaxPastJobsPerType of their type")
            .WithDescription(PurgeDescription + " The policy also runs every Retention:Interval (1 h) on one silo.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/jobs/purge", PurgeJobs)
            .WithName("PurgeJobs")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Delete the finished jobs a filter names (ids, status, type, finishedBefore)")
            .WithDescription(PurgeDescription)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/emergency-cleanup", EmergencyCleanup)
            .WithName("EmergencyCleanup")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Stop every active job: cancel (kill what still runs after graceSeconds) or force-fail; needs confirm: \"stop every job\"")
            .WithDescription("Each job is journaled emergency_cleanup; the locks and devices they held are released as they end. Safe to " +
                "repeat (a second run finds nothing to stop); new jobs are accepted at once. found: the active jobs by status; stillActive: " +
                "jobs that had not ended when the cleanup finished; validation: the state validator's run that follows (dry with a dry " +
                "run), which releases what a stopped job left held.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapGet("/validator", ValidatorStatus)
            .WithName("GetValidatorStatus")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("The state validator's last run and its totals by kind")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/validator/run", RunValidator)
            .WithName("RunValidator")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Run the state validator now: find what disagrees between the silos and the database, and repair it (dryRun: only count)")
            .WithDescription("Checks, in order: jobs left on silos that are gone (recovered), index rows against job states (rewritten, or " +
                "deleted with a job that has no state), the holders and waiters of every run slot, library lock, device and device pool " +
                "(released when their job ended or never existed), watchdog reminders of jobs that neither run nor wait (removed), catalog, " +
                "file operation and journal rows nothing owns (deleted), and file operations an ended job left in progress (settled from the " +
                "disk). Each repair of a job is journaled on it as validator_repair. found and repaired count by kind; sample: up to 100 " +
                "findings. It also runs every Validator:ValidationInterval (60 s) on one silo, when a silo starts, and after an emergency cleanup.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/api/jobs/{id}/purge", PurgeJob)
            .WithTags("Jobs")
            .WithName("PurgeJob")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Delete a finished job: its state, index row, journal and file operations")
            .WithDescription("204 when deleted; 409 with jobStatus while the job is not finished (nothing is deleted); 404 when no job has the id.")
            .ProducesJobActionProblems();
        return app;
    }

    public static async Task<Ok<RetentionStatus>> RetentionStatus(IClusterClient cluster) =>
        TypedResults.Ok(new RetentionStatus(await cluster.GetGrain<IRetentionGrain>(0).GetLastRunAsync()));

    public static async Task<Ok<PurgeRun>> RunRetention(HttpContext http, IClusterClient cluster, RetentionRunRequest? request = null) =>
        TypedResults.Ok(await cluster.GetGrain<IRetentionGrain>(0).RunAsync(
            new PurgeRequest("requested through the API", ApiActors.Of(http), request?.DryRun == true)));

    public static async Task<Results<Ok<PurgeRun>, ValidationProblem>> PurgeJobs(PurgeJobsRequest request, HttpContext http, IClusterClient cluster) =>
        TypedResults.Ok(await cluster.GetGrain<IRetentionGrain>(0).RunAsync(
            new PurgeRequest("purge requested through the API", ApiActors.Of(http), request.DryRun == true, request.ToFilter())));

    public static async Task<Results<Ok<EmergencyCleanupRun>, ValidationProblem>> EmergencyCleanup(
        EmergencyCleanupRequestBody request, HttpContext http, IClusterClient cluster) =>
        TypedResults.Ok(await cluster.GetGrain<IEmergencyCleanupGrain>(0).RunAsync(new EmergencyCleanupRequest(
            ApiActors.Of(http), request.Mode == "fail", TimeSpan.FromSeconds(request.GraceSeconds ?? 30), request.DryRun == true)));

    public static async Task<Ok<ValidatorStatus>> ValidatorStatus(IClusterClient cluster) =>
        TypedResults.Ok(await cluster.GetGrain<IStateValidatorGrain>(0).GetStatusAsync());

    public static async Task<Ok<ValidationRun>> RunValidator(HttpContext http, IClusterClient cluster, ValidatorRunRequest? request = null) =>
        TypedResults.Ok(await cluster.GetGrain<IStateValidatorGrain>(0).RunAsync(
            new ValidationRequest("requested through the API", ApiActors.Of(http), request?.DryRun == true)));

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> PurgeJob([JobId] string id, HttpContext http, IClusterClient cluster)
    {
        var grain = cluster.GetGrain<IJobGrain>(id);
        return await grain.PurgeAsync(ApiActors.Of(http)) switch
        {
            JobPurgeOutcome.Purged => TypedResults.NoContent(),
            JobPurgeOutcome.NotFound => ApiProblems.NotFound(id),
            _ => ApiProblems.Conflict(id, (await grain.GetAsync())?.Status, "Job not finished",
                $"Job {id} is not finished: only finished jobs are purged (cancel or kill it first). Nothing was deleted."),
        };
    }
}
