from setuptools import find_packages, setup

DAGSTER_VERSION = "1.13.27"

setup(
    name="huntress-pipeline",
    version="0.1.0",
    description=(
        "Huntress SOC incident reports to routed, self-contained Alga PSA tickets, "
        "orchestrated by Dagster."
    ),
    python_requires=">=3.10",
    packages=find_packages(include=["huntress_pipeline", "huntress_pipeline.*"]),
    package_data={"huntress_pipeline.psa": ["migrations/*.py", "migrations/versions/*.py", "alembic.ini"]},
    install_requires=[
        f"dagster=={DAGSTER_VERSION}",
        f"dagster-webserver=={DAGSTER_VERSION}",
        "dagster-postgres==0.29.27",
        "psycopg2-binary>=2.9",
        "httpx>=0.27",
        # 2.1 makes postgresql:// mean psycopg 3, which dagster-postgres cannot use with psycopg2
        "sqlalchemy>=2.0,<2.1",
        "alembic>=1.13",
        "click>=8.1",
        "pandas>=2.2",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-timeout>=2.3"],
    },
    entry_points={
        "console_scripts": ["huntress-pipeline=huntress_pipeline.cli:main"],
    },
)
