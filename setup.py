"""tb-featviz: activation maximization, code inversion and multifaceted feature
visualization of Keras models during training, with a TensorBoard plugin."""

import setuptools

TEST_REQUIRES = [
    "pytest>=8",
    "playwright>=1.45",
    "hypothesis>=6",
]

setuptools.setup(
    name="tb-featviz",
    version="0.1.0",
    description=__doc__.replace("\n", " "),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["tb_featviz", "tb_featviz.optvis", "tb_featviz.plugin",
              "tb_featviz.watch", "tb_featviz.frontend"],
    package_dir={"tb_featviz.frontend": "frontend"},
    package_data={"tb_featviz.frontend": ["*.js", "*.css", "*.html"]},
    install_requires=[
        "tensorflow>=2.16",  # the first TensorFlow that brings Keras 3
        "tensorboard>=2.21,<3",
        "numpy",
        "scikit-learn",
        "protobuf>=6.31.1,<8",
    ],
    extras_require={"test": TEST_REQUIRES},
    entry_points={
        "tensorboard_plugins": [
            "featviz = tb_featviz.plugin:FeatVizLoader",
        ],
        "console_scripts": ["tb-featviz = tb_featviz.watch.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: TensorFlow",
        "License :: OSI Approved :: Apache Software License",
    ],
)
