using Orleans.Dashboard;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.ApiHost.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrleansJobsApiHost();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRequestBodyLimit();
app.MapOpenApi();
app.MapHealthApi();
app.MapApiMetrics();
app.MapJobsApi();
app.MapEventsApi();
app.MapLibrariesApi();
app.MapDevicesApi();
app.MapAdminApi();
app.MapArchiveApi();
app.MapSafeguardsApi();
app.MapRecoveryApi();
app.MapWorkersApi();
// The dashboard's own endpoints are its UI's internals, not this API.
app.MapOrleansDashboard("/dashboard").ExcludeFromDescription();
app.Run();
