# The application image. The compose file runs it four ways: the one-shot set-up (migrate,
# setup_roles), the web application (gunicorn, this CMD), the workers (qcluster) and, for a
# rehearsal, the emulated OCLC file exchange.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data STATIC_ROOT=/app/staticfiles
RUN apt-get update && apt-get install -y --no-install-recommends openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app \
    && mkdir /data /exchange && chown app /data /exchange
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt .
# The code belongs to root: the application's user can read it, never change it.
COPY . .
# Static files are collected into the image beside the code, not into /data: a volume keeps
# its content across upgrades, so files collected there would stay an old release's.
RUN DEBUG=true DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v0 \
    && rm -rf /tmp/build
# PYTHONDONTWRITEBYTECODE keeps processes from writing bytecode at run time, so it is compiled
# here once: without it every process (a cron `manage.py publish`, each worker) compiles the
# application's modules from source as it starts.
RUN python -m compileall -q /app
USER app
EXPOSE 8000
# Workers, timeouts and logs: gunicorn.conf.py, read from the working directory.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
