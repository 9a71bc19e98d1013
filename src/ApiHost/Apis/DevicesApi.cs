using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Devices;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Register, read, change and remove devices; their agents' heartbeats, faults and checks.</summary>
public static class DevicesApi
{
    public static IEndpointRouteBuilder MapDevicesApi(this IEndpointRouteBuilder app)
    {
        var devices = app.MapGroup("/api/devices").WithTags("Devices");
        devices.MapPost("/", Register)
            .WithName("RegisterDevice")
            .RequireOperatorOrWorker()
            .WithSummary("Register a device")
            .WithDescription("A device starts Offline until its agent's first heartbeat. Registering it again with the same definition " +
                "answers 200; a different definition under the same id is a 409.")
            .Produces<DeviceProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapGet("/", List)
            .WithName("ListDevices")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("List devices by id, filtered by kind and state")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapGet("/{id}", Get)
            .WithName("GetDevice")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("A device with its state, owner job, waiting jobs, last heartbeat, last fault and the jobs it interrupted")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapPatch("/{id}", Update)
            .WithName("UpdateDevice")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Change a device's name, settings or heartbeat timeout (its kind never changes)")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapDelete("/{id}", Remove)
            .WithName("RemoveDevice")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Remove a device")
            .WithDescription("Refused (409, naming the jobs) while a job owns the device or waits for it.")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .Produces<DeviceProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapPost("/{id}/heartbeat", Heartbeat)
            .WithName("DeviceHeartbeat")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("The device's agent is alive: the device is Online (Busy while its job runs), or Faulted while a fault is reported")
            .WithDescription("Send every second or so: after heartbeatTimeoutSeconds without one the device is Offline and the job running on " +
                "it is paused. A device back from Offline or Faulted lets the job it interrupted continue if its type resumes on its own. " +
                "Another agent is refused (409) until the device is Offline.")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .Produces<DeviceProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapPost("/{id}/faults", Fault)
            .WithName("DeviceFault")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("The device's agent reports a fault: the device is Faulted and the job running on it is paused at once")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .Produces<DeviceProblemDetails>(StatusCodes.Status409Conflict, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        devices.MapPost("/{id}/check", RequestCheck)
            .WithName("RequestDeviceCheck")
            .RequireRole(ApiRoles.Operator)
            .WithSummary("Ask the device's agent to check the device; it gets the request with its next heartbeat and answers in the one after")
            .Produces<DeviceProblemDetails>(StatusCodes.Status404NotFound, ApiDocumentation.ProblemJson)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Created<DeviceResponse>, Ok<DeviceResponse>, ValidationProblem, ProblemHttpResult>> Register(
        RegisterDeviceRequest request, HttpContext http, IClusterClient cluster)
    {
        if (WorkerScope.ForDevice(http.User, request.Id, operatorToo: true) is { } refused)
        {
            return refused;
        }

        var result = await cluster.GetGrain<IDeviceGrain>(request.Id).RegisterAsync(request.ToDefinition(), ApiActors.Of(http));
        return result.Outcome switch
        {
            DeviceOutcome.Registered => TypedResults.Created($"/api/devices/{request.Id}", DeviceResponse.From(result.Device!)),
            DeviceOutcome.Existing => TypedResults.Ok(DeviceResponse.From(result.Device!)),
            DeviceOutcome.Conflict => ApiProblems.DeviceConflict(request.Id, "Device exists",
                $"Device '{request.Id}' is registered with a different definition; nothing was changed."),
            _ => ApiProblems.Invalid(result.Errors),
        };
    }

    public static async Task<Results<Ok<DevicePage>, ValidationProblem>> List(
        [AsParameters] ListDevicesQuery query, DeviceReads reads, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reads.ListAsync(query, cancellationToken));

    public static async Task<Results<Ok<DeviceResponse>, ValidationProblem, ProblemHttpResult>> Get(
        [DeviceId] string id, DeviceReads reads, CancellationToken cancellationToken) =>
        await reads.ReadAsync(id, cancellationToken) is { } device ? TypedResults.Ok(device) : ApiProblems.DeviceNotFound(id);

    public static async Task<Results<Ok<DeviceResponse>, ValidationProblem, ProblemHttpResult>> Update(
        [DeviceId] string id, HttpContext http, IClusterClient cluster, [FromBody] UpdateDeviceRequest? request = null)
    {
        var result = await cluster.GetGrain<IDeviceGrain>(id).UpdateAsync((request ?? new UpdateDeviceRequest()).ToUpdate(), ApiActors.Of(http));
        return result.Outcome switch
        {
            DeviceOutcome.Updated => TypedResults.Ok(DeviceResponse.From(result.Device!)),
            DeviceOutcome.NotFound => ApiProblems.DeviceNotFound(id),
            _ => ApiProblems.Invalid(result.Errors),
        };
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Remove([DeviceId] string id, HttpContext http, IClusterClient cluster)
    {
        var result = await cluster.GetGrain<IDeviceGrain>(id).RemoveAsync(ApiActors.Of(http));
        return result.Outcome switch
        {
            DeviceOutcome.NotFound => ApiProblems.DeviceNotFound(id),
            DeviceOutcome.InUse => ApiProblems.DeviceConflict(id, "Device in use",
                $"A job owns device '{id}' or waits for it; cancel those jobs first. Nothing was removed.", result.Owner, result.Waiting),
            _ => TypedResults.NoContent(), // Removed
        };
    }

    public static Task<Results<Ok<DeviceHeartbeatResponse>, ValidationProblem, ProblemHttpResult>> Heartbeat(
        [DeviceId] string id, DeviceHeartbeatRequest request, HttpContext http, IClusterClient cluster) =>
        HeartbeatAsync(id, request.ToHeartbeat(), http, cluster);

    public static Task<Results<Ok<DeviceHeartbeatResponse>, ValidationProblem, ProblemHttpResult>> Fault(
        [DeviceId] string id, DeviceFaultRequest request, HttpContext http, IClusterClient cluster) =>
        HeartbeatAsync(id, request.ToHeartbeat(), http, cluster);

    public static async Task<Results<Accepted<DeviceResponse>, ValidationProblem, ProblemHttpResult>> RequestCheck(
        [DeviceId] string id, HttpContext http, IClusterClient cluster)
    {
        var result = await cluster.GetGrain<IDeviceGrain>(id).RequestCheckAsync(ApiActors.Of(http));
        return result.Outcome == DeviceOutcome.NotFound
            ? ApiProblems.DeviceNotFound(id)
            : TypedResults.Accepted($"/api/devices/{id}", DeviceResponse.From(result.Device!));
    }

    private static async Task<Results<Ok<DeviceHeartbeatResponse>, ValidationProblem, ProblemHttpResult>> HeartbeatAsync(
        string id, DeviceHeartbeat heartbeat, HttpContext http, IClusterClient cluster)
    {
        if (WorkerScope.ForDevice(http.User, id) is { } refused)
        {
            return refused;
        }

        var result = await cluster.GetGrain<IDeviceGrain>(id).HeartbeatAsync(heartbeat);
        return result.Outcome switch
        {
            DeviceOutcome.NotFound => ApiProblems.DeviceNotFound(id),
            DeviceOutcome.WrongAgent => ApiProblems.DeviceConflict(id, "Another agent serves the device",
                string.Join("; ", result.Errors.Select(e => e.Message)) + ". Nothing was changed."),
            _ => TypedResults.Ok(new DeviceHeartbeatResponse(DeviceResponse.From(result.Device!), result.CheckRequested)),
        };
    }
}
