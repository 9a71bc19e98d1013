using Orleans.Dashboard;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.Security;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrleansJobsApiHost();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseRequestBodyLimit();
app.MapOpenApi().RequireRole(ApiRoles.Reader);
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
app.MapKeysApi();
// The dashboard's own endpoints are its UI's internals, not this API; a browser gives the admin key as a Basic password.
app.MapOrleansDashboard("/dashboard").RequireRole(ApiRoles.Admin).ExcludeFromDescription();
app.Run();
