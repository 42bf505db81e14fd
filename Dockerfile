FROM python:3.11-slim
WORKDIR /srv/jobrelay
COPY pyproject.toml README.md celeryconfig.py ./
COPY app ./app
COPY workers ./workers
COPY bench ./bench
RUN pip install --no-cache-dir . flower
RUN useradd --create-home jobrelay
USER jobrelay
ENV JOBRELAY_DATA_DIR=/home/jobrelay/data
CMD ["jobrelay", "--help"]
