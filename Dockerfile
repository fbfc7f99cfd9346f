# CPU image of the server with the embedded tiny-llama. Build:  docker build -t inference-server .
# Run:  docker run -p 8000:8000 -p 8001:8001 inference-server            (serves tiny-llama on CPU)
#       docker run -v /models/x:/model ... inference-server --model /model
# For CUDA, run on a base image with a CUDA PyTorch and pass --device cuda --libtorch <its torch/lib> (see README).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Server/Server.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# The embedded model and data, found by the server as Assets/ beside itself.
COPY src/Assets/tiny-llama Assets/tiny-llama
COPY src/Assets/data Assets/data
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s CMD wget -qO- http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["dotnet", "InferenceServer.dll", "serve", "--host", "0.0.0.0"]
