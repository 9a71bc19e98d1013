using Microsoft.AspNetCore.Diagnostics;
using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// A request that could not reach the cluster or the database answers 503 with a problem body
/// (retry later), not 500: nothing was decided, and nothing stored was changed by this request.
/// </summary>
public sealed class UnavailableExceptionHandler(IProblemDetailsService problems, ILogger<UnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var dependency = IsDatabase(exception) ? "database" : exception switch
        {
            TimeoutException or OrleansException or OperationCanceledException when !httpContext.RequestAborted.IsCancellationRequested => "cluster",
            ArgumentException when NoSiloAnnouncedTheGrain(exception) => "cluster",
            _ => null,
        };
        if (dependency is null)
        {
            return false;
        }

        logger.LogWarning("{Method} {Path}: {Dependency} unavailable ({Error}: {Message})",
            httpContext.Request.Method, httpContext.Request.Path, dependency, exception.GetType().Name, exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = $"The {dependency} is unavailable",
                Detail = $"The request could not reach the {dependency}; retry shortly. Whether a submitted job was created can be " +
                    "checked by repeating the request with the same idempotency key.",
            },
        });
    }

    /// <summary>
    /// The client knows no silo yet that hosts the grain (the API host started before any silo joined, or
    /// every silo left): Orleans' resolver of grain interfaces refuses the call before it is sent.
    /// </summary>
    private static bool NoSiloAnnouncedTheGrain(Exception exception) =>
        exception.TargetSite?.DeclaringType?.FullName == "Orleans.GrainInterfaceTypeToGrainTypeResolver";

    /// <summary>
    /// The database could not be reached, directly (the API host's own queries) or from a grain
    /// whose storage could not reach it: the silo's exception crosses the wire as itself or, when it
    /// cannot be rebuilt here, as a fallback that keeps its type name. Only connection-level
    /// failures count (Npgsql's <see cref="NpgsqlException.IsTransient"/>: broken or refused
    /// connections, timeouts, a server shutting down): a statement the server refused for its data
    /// (a PostgresException such as 22P05) is a bug to see as a 500, never an outage to retry.
    /// </summary>
    private static bool IsDatabase(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true } or DatabaseUnavailableException
                || e is Orleans.Serialization.UnavailableExceptionFallbackException { ExceptionType: "Npgsql.NpgsqlException" })
            {
                return true;
            }
        }

        return false;
    }
}
