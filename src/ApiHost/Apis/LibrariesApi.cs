using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Libraries;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Create, read, change and delete libraries; read their catalogs.</summary>
public static class LibrariesApi
{
    public static IEndpointRouteBuilder MapLibrariesApi(this IEndpointRouteBuilder app)
    {
        var libraries = app.MapGroup("/api/libraries").WithTags("Libraries");
        libraries.MapPost("/", Create)
            .WithName("CreateLibrary")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Create a library")
            .WithDescription("The root must be an existing folder under an allowed base folder, and may not contain or lie inside another " +
                "library's root. Creating it again with the same definition answers 200; a different definition under the same id is a 409.")
            .Produces<LibraryProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        libraries.MapGet("/", List)
            .WithName("ListLibraries")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("List libraries by id, with the job that holds each one's lock")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        libraries.MapGet("/{id}", Get)
            .WithName("GetLibrary")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("A library with its lock's holder and waiting jobs")
            .Produces<LibraryProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        libraries.MapPatch("/{id}", Update)
            .WithName("UpdateLibrary")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Change a library's name or settings (its root never changes)")
            .Produces<LibraryProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        libraries.MapDelete("/{id}", Delete)
            .WithName("DeleteLibrary")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Delete a library and its catalog (never its files)")
            .WithDescription("Refused (409, naming the jobs) while a job holds or waits for the library's lock. With force=true those jobs " +
                "are cancelled first (a holder that does not stop within 10 s is killed), then the library is deleted.")
            .Produces<LibraryProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .Produces<LibraryProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        libraries.MapGet("/{id}/catalog", Catalog)
            .WithName("GetLibraryCatalog")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("The library's files as its last analysis found them, by path")
            .Produces<LibraryProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Created<LibraryResponse>, Ok<LibraryResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateLibraryRequest request, HttpContext http, IClusterClient cluster)
    {
        var result = await cluster.GetGrain<ILibraryGrain>(request.Id).CreateAsync(request.ToDefinition(), ApiActors.Of(http));
        return result.Outcome switch
        {
            LibraryOutcome.Created => TypedResults.Created($"/api/libraries/{request.Id}", LibraryResponse.From(result.Library!)),
            LibraryOutcome.Existing => TypedResults.Ok(LibraryResponse.From(result.Library!)),
            LibraryOutcome.Conflict => ApiProblems.LibraryConflict(request.Id, "Library exists",
                $"Library '{request.Id}' exists with a different definition; nothing was changed."),
            _ => ApiProblems.Invalid(result.Errors),
        };
    }

    public static async Task<Results<Ok<LibraryPage>, ValidationProblem>> List(
        [AsParameters] ListLibrariesQuery query, LibraryReads reads, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reads.ListAsync(query, cancellationToken));

    public static async Task<Results<Ok<LibraryResponse>, ValidationProblem, ProblemHttpResult>> Get(
        [LibraryId] string id, LibraryReads reads, CancellationToken cancellationToken) =>
        await reads.ReadAsync(id, cancellationToken) is { } library ? TypedResults.Ok(library) : ApiProblems.LibraryNotFound(id);

    public static async Task<Results<Ok<LibraryResponse>, ValidationProblem, ProblemHttpResult>> Update(
        [LibraryId] string id, HttpContext http, IClusterClient cluster, [FromBody] UpdateLibraryRequest? request = null)
    {
        var result = await cluster.GetGrain<ILibraryGrain>(id).UpdateAsync((request ?? new UpdateLibraryRequest()).ToUpdate(), ApiActors.Of(http));
        return result.Outcome switch
        {
            LibraryOutcome.Updated => TypedResults.Ok(LibraryResponse.From(result.Library!)),
            LibraryOutcome.NotFound => ApiProblems.LibraryNotFound(id),
            _ => ApiProblems.Invalid(result.Errors),
        };
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        [LibraryId] string id,
        [FromQuery(Name = "force"), Description("true: cancel (then kill) the jobs that hold or wait for the library's lock, then delete it.")] bool? force,
        HttpContext http, IClusterClient cluster)
    {
        var result = await cluster.GetGrain<ILibraryGrain>(id).DeleteAsync(force == true, ApiActors.Of(http));
        return result.Outcome switch
        {
            LibraryDeleteOutcome.Deleted => TypedResults.NoContent(),
            LibraryDeleteOutcome.NotFound => ApiProblems.LibraryNotFound(id),
            _ => ApiProblems.LibraryConflict(id, "Library in use",
                force == true
                    ? $"The jobs using library '{id}' did not stop in time; nothing was deleted."
                    : $"Jobs hold or wait for library '{id}'; stop them, or delete with force=true. Nothing was deleted.",
                result.Holders, result.Waiting),
        };
    }

    public static async Task<Results<Ok<CatalogPage>, ValidationProblem, ProblemHttpResult>> Catalog(
        [LibraryId] string id, [AsParameters] CatalogQuery query, LibraryReads reads, CancellationToken cancellationToken)
    {
        if (await reads.ReadAsync(id, cancellationToken) is null)
        {
            return ApiProblems.LibraryNotFound(id);
        }

        return TypedResults.Ok(await reads.CatalogAsync(id, query, cancellationToken));
    }
}
